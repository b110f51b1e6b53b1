package registry

import (
	"context"
	"encoding/json"
	"mime"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
)

// Manifest is a stored manifest as served: the exact pushed bytes.
type Manifest struct {
	Digest    digest.Digest
	MediaType string
	Content   []byte
}

// GetManifest resolves a tag or digest (end-3, GET and HEAD).
func (s *Service) GetManifest(ctx context.Context, c Caller, name, reference string) (Manifest, error) {
	repo, err := s.pullRepo(ctx, c, name)
	if err != nil {
		return Manifest{}, err
	}
	ref, err := oci.ParseReference(reference)
	if err != nil {
		return Manifest{}, err
	}
	d := ref.Digest.String()
	if ref.Tag != "" {
		t, err := s.meta.GetTag(ctx, repo.ID, ref.Tag)
		if err != nil {
			return Manifest{}, notFound(err, oci.CodeManifestUnknown, "manifest")
		}
		d = t.Digest
	}
	m, err := s.meta.GetManifest(ctx, repo.ID, d)
	if err != nil {
		return Manifest{}, notFound(err, oci.CodeManifestUnknown, "manifest")
	}
	return Manifest{Digest: digest.Digest(m.Digest), MediaType: m.MediaType, Content: m.Content}, nil
}

// PutManifestResult is what a manifest PUT reports.
type PutManifestResult struct {
	Digest  digest.Digest
	Subject digest.Digest // "" when the manifest has none
}

// PutManifest stores a manifest byte-exact under its digest and, when
// reference is a tag, points the tag at it (end-7). A SIF artifact pushed
// to a library container also becomes a library image with that tag.
func (s *Service) PutManifest(ctx context.Context, c Caller, name, reference, contentType string, body []byte) (PutManifestResult, error) {
	if len(body) > oci.MaxManifestSize {
		return PutManifestResult{}, oci.Errorf(oci.CodeSizeInvalid, apperr.TooLarge, "manifest larger than %d bytes", oci.MaxManifestSize)
	}
	d, tag, err := manifestDigest(reference, body)
	if err != nil {
		return PutManifestResult{}, err
	}
	parsed, err := oci.ParseManifest(body)
	if err != nil {
		return PutManifestResult{}, err
	}
	row := manifestRow(d, contentType, body, parsed)
	res := PutManifestResult{Digest: d}
	if parsed.Subject != nil {
		res.Subject = parsed.Subject.Digest
	}
	err = s.tx(ctx, func(tx meta.Store) error {
		repo, err := s.pushRepo(ctx, tx, c, name, oci.ActionPush)
		if err != nil {
			return err
		}
		if err := s.checkFrozen(ctx, tx, repo, tag, d); err != nil {
			return err
		}
		row.RepositoryID = repo.ID
		if err := tx.PutManifest(ctx, &row, refDigests(parsed)); err != nil {
			return err
		}
		if tag != "" {
			if err := tx.PutTag(ctx, &meta.Tag{RepositoryID: repo.ID, Name: tag, Digest: d.String()}); err != nil {
				return err
			}
		}
		if !s.isLibrary(name) {
			return nil
		}
		if parsed.IsSIF() {
			return s.addSIF(ctx, tx, c, name, repo, d, tag, parsed)
		}
		if oci.IsIndex(row.MediaType) && tag != "" {
			return s.tagSIFIndex(ctx, tx, c, name, repo, tag, parsed)
		}
		return nil
	})
	return res, err
}

// manifestDigest computes the digest of body in the reference's algorithm
// (sha256 for a tag) and checks it against a digest reference.
func manifestDigest(reference string, body []byte) (digest.Digest, string, error) {
	ref, err := oci.ParseReference(reference)
	if err != nil {
		if oci.CodeOf(err) == oci.CodeManifestUnknown { // a bad tag, on a PUT
			return "", "", oci.Errorf(oci.CodeManifestInvalid, apperr.Invalid, "invalid tag %q", reference)
		}
		return "", "", err
	}
	if ref.Tag != "" {
		return digest.FromBytes(body), ref.Tag, nil
	}
	d := ref.Digest.Algorithm().FromBytes(body)
	if d != ref.Digest {
		return "", "", oci.Errorf(oci.CodeDigestInvalid, apperr.Invalid, "manifest digest is %s, not %s", d, ref.Digest)
	}
	return d, "", nil
}

// manifestRow builds the stored row. The media type is the one the client
// pushed with (GET must answer with it), else the body's, else the OCI
// manifest type the spec defaults to.
func manifestRow(d digest.Digest, contentType string, body []byte, m oci.Manifest) meta.Manifest {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt == "" {
		mt = m.MediaType
	}
	if mt == "" {
		mt = oci.MediaTypeImageManifest
	}
	row := meta.Manifest{Digest: d.String(), MediaType: mt, Content: body, ArtifactType: m.ArtifactType}
	if m.Config != nil {
		row.ConfigMediaType = m.Config.MediaType
	}
	if m.Subject != nil {
		row.Subject = m.Subject.Digest.String()
	}
	if len(m.Annotations) > 0 {
		b, _ := json.Marshal(m.Annotations)
		row.Annotations = string(b)
	}
	return row
}

func refDigests(m oci.Manifest) []string {
	var out []string
	for _, d := range m.References() {
		out = append(out, d.Digest.String())
	}
	return out
}

// DeleteManifest deletes a tag, or a manifest by digest together with the
// tags pointing at it (end-9).
func (s *Service) DeleteManifest(ctx context.Context, c Caller, name, reference string) error {
	ref, err := oci.ParseReference(reference)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx meta.Store) error {
		repo, err := s.existingRepo(ctx, tx, c, name, oci.ActionDelete)
		if err != nil {
			return err
		}
		if err := s.checkFrozenDelete(ctx, tx, repo, ref); err != nil {
			return err
		}
		if ref.Tag != "" {
			return notFound(tx.DeleteTag(ctx, repo.ID, ref.Tag), oci.CodeManifestUnknown, "manifest")
		}
		return notFound(tx.DeleteManifest(ctx, repo.ID, ref.Digest.String()), oci.CodeManifestUnknown, "manifest")
	})
}
