package registry

import (
	"context"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
)

// Manifest is a stored manifest as served: the exact pushed bytes.
type Manifest struct {
	Digest    digest.Digest
	MediaType string
	Content   []byte
}

func unknownManifest() error {
	return apperr.E(apperr.NotFound, apperr.Manifest, "manifest unknown to registry")
}

// GetManifest resolves a tag or digest (end-3, GET and HEAD). The hot
// path of every pull reads the repository, its privacy and the manifest in
// one query (LookupManifest) and decides with the same rules as pull;
// anything unusual (no such repository row, a malformed reference) takes
// the general path, whose answers are the reference.
func (s *Service) GetManifest(ctx context.Context, c Caller, name, reference string) (Manifest, error) {
	if !oci.ValidName(name) {
		return Manifest{}, invalidName()
	}
	ref, err := oci.ParseReference(reference)
	if err != nil {
		return s.getManifest(ctx, c, name, reference)
	}
	byDigest := ""
	if ref.Tag == "" {
		byDigest = ref.Digest.String()
	}
	lk, err := s.meta.LookupManifest(ctx, name, ref.Tag, byDigest)
	if apperr.Is(err, apperr.NotFound) {
		return s.getManifest(ctx, c, name, reference)
	}
	if err != nil {
		return Manifest{}, err
	}
	ok, err := s.canRead(ctx, s.meta, c.Principal, lk.Repository, lk.Collection)
	if err == nil {
		err = readAnswer(c, name, ok)
	}
	if err != nil {
		return Manifest{}, err
	}
	if !lk.Found {
		return Manifest{}, unknownManifest()
	}
	return Manifest{Digest: digest.Digest(lk.Manifest.Digest), MediaType: lk.Manifest.MediaType, Content: lk.Manifest.Content}, nil
}

// getManifest is GetManifest's general path, in one read-only snapshot.
func (s *Service) getManifest(ctx context.Context, c Caller, name, reference string) (Manifest, error) {
	var out Manifest
	err := s.view(ctx, func(st Store) error {
		repo, err := s.pull(ctx, st, c, name)
		if err != nil {
			return err
		}
		ref, err := oci.ParseReference(reference)
		if err != nil {
			return err
		}
		d := ref.Digest.String()
		if ref.Tag != "" {
			t, err := st.GetTag(ctx, repo.ID, ref.Tag)
			if err != nil {
				return orUnknownManifest(err)
			}
			d = t.Digest
		}
		m, err := st.GetManifest(ctx, repo.ID, d)
		if err != nil {
			return orUnknownManifest(err)
		}
		out = Manifest{Digest: digest.Digest(m.Digest), MediaType: m.MediaType, Content: m.Content}
		return nil
	})
	return out, err
}

func orUnknownManifest(err error) error {
	if apperr.Is(err, apperr.NotFound) {
		return unknownManifest()
	}
	return err
}

// PutManifestResult is what a manifest PUT reports.
type PutManifestResult struct {
	Digest  digest.Digest
	Subject digest.Digest // "" when the manifest has none
}

// pushed is a parsed manifest PUT.
type pushed struct {
	name, tag string
	d         digest.Digest
	row       meta.Manifest
	m         oci.Manifest
	sif       bridge.SIF // read before the transaction, for a SIF in a library container
}

// PutManifest stores a manifest byte-exact under its digest and, when
// reference is a tag, points the tag at it (end-7). Everything it names
// must be in the repository. A SIF artifact pushed to a library container
// also becomes a library image with that tag. Nothing is written unless
// all of it succeeds.
func (s *Service) PutManifest(ctx context.Context, c Caller, name, reference, contentType string, body []byte) (PutManifestResult, error) {
	if err := s.authorizePush(ctx, c, name); err != nil {
		return PutManifestResult{}, err
	}
	if len(body) > oci.MaxManifestSize {
		return PutManifestResult{}, apperr.E(apperr.TooLarge, apperr.Manifest, "manifest larger than %d bytes", oci.MaxManifestSize)
	}
	p, err := parsePush(name, reference, contentType, body)
	if err != nil {
		return PutManifestResult{}, err
	}
	if isLibrary(name) && p.m.IsSIF() {
		// The library stores SIF images only; a layer not in the blob
		// store is the transaction's MANIFEST_BLOB_UNKNOWN.
		p.sif, err = s.bridge.Inspect(ctx, p.m.Layers[0].Digest)
		if apperr.Is(err, apperr.Invalid) {
			return PutManifestResult{}, apperr.About(apperr.Manifest, err)
		}
		if err != nil && !apperr.Is(err, apperr.NotFound) {
			return PutManifestResult{}, err
		}
	}
	res := PutManifestResult{Digest: p.d}
	if p.m.Subject != nil {
		res.Subject = p.m.Subject.Digest
	}
	return res, s.tx(ctx, func(tx Store) error { return s.storeManifest(ctx, tx, c, p) })
}

func parsePush(name, reference, contentType string, body []byte) (pushed, error) {
	p := pushed{name: name}
	var err error
	if p.d, p.tag, err = manifestDigest(reference, body); err != nil {
		return p, err
	}
	if p.m, err = oci.ParseManifest(body); err != nil {
		return p, err
	}
	mt, err := oci.MediaTypeOf(contentType, p.m)
	if err != nil {
		return p, err
	}
	p.row = bridge.ManifestRow(p.d, mt, body, p.m)
	return p, nil
}

// storeManifest writes a parsed manifest inside tx.
func (s *Service) storeManifest(ctx context.Context, tx Store, c Caller, p pushed) error {
	t, err := s.push(ctx, tx, c, p.name, oci.ActionPush, true)
	if err != nil {
		return err
	}
	if err := s.checkReferences(ctx, tx, t.repo, p.m); err != nil {
		return err
	}
	if p.tag != "" && t.library() {
		if err := s.frozenTag(ctx, tx, t, p.tag, p.d); err != nil {
			return err
		}
	}
	p.row.RepositoryID = t.repo.ID
	if err := tx.PutManifest(ctx, &p.row, bridge.RefDigests(p.m)); err != nil {
		return err
	}
	if t.library() && p.m.IsSIF() {
		// The library's tags decide the OCI tag (one architecture: this
		// manifest; several: an index).
		return s.bridge.AddSIF(ctx, tx, c.Principal, t.ref, p.d, p.tag, p.m, p.sif)
	}
	if t.library() && p.m.IsIndex() && p.tag != "" {
		if tagged, err := s.bridge.TagIndex(ctx, tx, c.Principal, t.ref, t.repo, p.tag, p.m); err != nil || tagged {
			return err
		}
	}
	if p.tag == "" {
		return nil
	}
	return tx.PutTag(ctx, &meta.Tag{RepositoryID: t.repo.ID, Name: p.tag, Digest: p.d.String()})
}

// frozenTag asks the bridge's frozen rule when an OCI tag would change.
func (s *Service) frozenTag(ctx context.Context, tx Store, t target, tag string, d digest.Digest) error {
	if t.repo.ID != "" {
		old, err := tx.GetTag(ctx, t.repo.ID, tag)
		if err == nil && old.Digest == d.String() {
			return nil
		}
		if err != nil && !apperr.Is(err, apperr.NotFound) {
			return err
		}
	}
	return s.bridge.FrozenTag(ctx, tx, t.ref, tag)
}

// checkReferences refuses a manifest naming what the repository does not
// hold (MANIFEST_BLOB_UNKNOWN): an image manifest's config and layers must
// be blobs of the repository, of the declared sizes; an index's entries
// manifests of it. Non-distributable layers (with URLs) are not pushed.
func (s *Service) checkReferences(ctx context.Context, tx Store, repo meta.Repository, m oci.Manifest) error {
	for _, d := range m.References() {
		if len(d.URLs) > 0 {
			continue
		}
		var size int64
		var err error
		if m.IsIndex() {
			var row meta.Manifest
			row, err = tx.GetManifest(ctx, repo.ID, d.Digest.String())
			size = row.Size
		} else {
			// Touched, not only read: the garbage collector then leaves
			// the blob and its link alone (docs/gc.md).
			var rec meta.BlobRecord
			rec, err = tx.TouchRepositoryBlob(ctx, repo.ID, d.Digest.String())
			size = rec.Size
		}
		if apperr.Is(err, apperr.NotFound) {
			return apperr.E(apperr.Invalid, apperr.Blob, "the manifest names %s, which is not in repository %s", d.Digest, repo.Name)
		}
		if err != nil {
			return err
		}
		// scs-library-client's indexes give their entries no size
		// (docs/protocols/library-api.md §5.1): an index entry of size 0
		// names its manifest by digest alone.
		if size != d.Size && !(m.IsIndex() && d.Size == 0) {
			return apperr.E(apperr.Invalid, apperr.Manifest, "%s has %d bytes, the manifest says %d", d.Digest, size, d.Size)
		}
	}
	return nil
}

// manifestDigest computes the digest of body in the reference's algorithm
// (sha256 for a tag) and checks it against a digest reference.
func manifestDigest(reference string, body []byte) (digest.Digest, string, error) {
	ref, err := oci.ParseReference(reference)
	if err != nil {
		if apperr.Is(err, apperr.NotFound) { // a bad tag, on a PUT
			return "", "", apperr.E(apperr.Invalid, apperr.Manifest, "invalid tag %q", reference)
		}
		return "", "", err
	}
	if ref.Tag != "" {
		return digest.FromBytes(body), ref.Tag, nil
	}
	d := ref.Digest.Algorithm().FromBytes(body)
	if d != ref.Digest {
		return "", "", apperr.E(apperr.Invalid, apperr.Digest, "manifest digest is %s, not %s", d, ref.Digest)
	}
	return d, "", nil
}

// DeleteManifest deletes a tag, or a manifest by digest together with the
// tags pointing at it (end-9). A frozen container keeps its tags and the
// manifests they name.
func (s *Service) DeleteManifest(ctx context.Context, c Caller, name, reference string) error {
	return s.tx(ctx, func(tx Store) error {
		t, err := s.existing(ctx, tx, c, name)
		if err != nil {
			return err
		}
		ref, err := oci.ParseReference(reference)
		if err != nil {
			return err
		}
		if err := s.frozenDelete(ctx, tx, t, ref); err != nil {
			return err
		}
		if ref.Tag != "" {
			return orUnknownManifest(tx.DeleteTag(ctx, t.repo.ID, ref.Tag))
		}
		return orUnknownManifest(tx.DeleteManifest(ctx, t.repo.ID, ref.Digest.String()))
	})
}

// frozenDelete applies the frozen rule to OCI deletes in a library
// container: a tag, or a manifest a tag names, stays.
func (s *Service) frozenDelete(ctx context.Context, tx Store, t target, ref oci.Reference) error {
	if !t.library() || !t.ref.Container.Frozen {
		return nil
	}
	if ref.Tag == "" {
		tags, err := tx.ListTagsFor(ctx, t.repo.ID, ref.Digest.String())
		if err != nil || len(tags) == 0 {
			return err
		}
	}
	return s.bridge.FrozenContent(t.ref, "its tags")
}
