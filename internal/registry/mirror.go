package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sort"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/library"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
)

// The registry is the library's Mirror: every library image is also an OCI
// artifact of its container's repository, as `singularity push oras://`
// would have written it, so `oras://` pulls what `library://` pushed. Tags
// follow the library's: one architecture gives the plain manifest (what
// `singularity pull oras://` needs), several give an image index with a
// platform per architecture.
var _ library.Mirror = (*Service)(nil)

// ImageUploaded records img's blob in the repository and gives img its
// manifest: the one an OCI push supplied, or a SIF artifact made here.
func (s *Service) ImageUploaded(ctx context.Context, tx meta.Store, ref library.Ref, img meta.Image) error {
	repo, err := libraryRepo(ctx, tx, ref)
	if err != nil {
		return err
	}
	_, err = s.imageManifest(ctx, tx, ref, repo, img)
	return err
}

// TagsChanged points the OCI tag at what the library tag now names.
func (s *Service) TagsChanged(ctx context.Context, tx meta.Store, ref library.Ref, tag string) error {
	repo, err := libraryRepo(ctx, tx, ref)
	if err != nil {
		return err
	}
	return s.syncTag(ctx, tx, ref, repo, tag)
}

// ImageDeleted removes img's manifest (and so the OCI tags on it) and
// rebuilds the multi-architecture indexes that listed it.
func (s *Service) ImageDeleted(ctx context.Context, tx meta.Store, ref library.Ref, img meta.Image) error {
	repo, err := tx.GetRepositoryByContainer(ctx, ref.Container.ID)
	if apperr.Is(err, apperr.NotFound) || img.ManifestDigest == "" {
		return nil
	}
	if err != nil {
		return err
	}
	if err := tx.DeleteManifest(ctx, repo.ID, img.ManifestDigest); err != nil && !apperr.Is(err, apperr.NotFound) {
		return err
	}
	tags, err := tx.ListTags(ctx, repo.ID, "", 0)
	if err != nil {
		return err
	}
	for _, t := range tags {
		m, err := tx.GetManifest(ctx, repo.ID, t.Digest)
		if err != nil {
			return err
		}
		if oci.IsIndex(m.MediaType) && bytes.Contains(m.Content, []byte(img.ManifestDigest)) {
			if err := s.syncTag(ctx, tx, ref, repo, t.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// syncTag makes OCI tag agree with the library tag of the same name.
func (s *Service) syncTag(ctx context.Context, tx meta.Store, ref library.Ref, repo meta.Repository, tag string) error {
	all, err := tx.ListLibraryTags(ctx, ref.Container.ID)
	if err != nil {
		return err
	}
	var descs []oci.Descriptor
	for _, lt := range all {
		if lt.Tag != tag {
			continue
		}
		img, err := tx.GetImage(ctx, lt.ImageID)
		if err != nil {
			return err
		}
		desc, err := s.imageManifest(ctx, tx, ref, repo, img)
		if err != nil {
			return err
		}
		if lt.Arch != "" {
			desc.Platform = &oci.Platform{Architecture: lt.Arch, OS: "linux"}
		}
		descs = append(descs, desc)
	}
	switch len(descs) {
	case 0:
		if err := tx.DeleteTag(ctx, repo.ID, tag); err != nil && !apperr.Is(err, apperr.NotFound) {
			return err
		}
		return nil
	case 1:
		return tx.PutTag(ctx, &meta.Tag{RepositoryID: repo.ID, Name: tag, Digest: descs[0].Digest.String()})
	}
	sort.Slice(descs, func(i, j int) bool { return platformOf(descs[i]) < platformOf(descs[j]) })
	idx, err := json.Marshal(oci.Manifest{SchemaVersion: 2, MediaType: oci.MediaTypeImageIndex, Manifests: descs})
	if err != nil {
		return err
	}
	d := digest.FromBytes(idx)
	parsed, _ := oci.ParseManifest(idx)
	row := manifestRow(d, oci.MediaTypeImageIndex, idx, parsed)
	row.RepositoryID = repo.ID
	if err := tx.PutManifest(ctx, &row, refDigests(parsed)); err != nil {
		return err
	}
	return tx.PutTag(ctx, &meta.Tag{RepositoryID: repo.ID, Name: tag, Digest: d.String()})
}

func platformOf(d oci.Descriptor) string {
	if d.Platform == nil {
		return ""
	}
	return d.Platform.Architecture
}

// imageManifest returns the descriptor of img's manifest in repo, making
// the SIF artifact manifest when img has none there yet, and records the
// blobs it references as served by repo.
func (s *Service) imageManifest(ctx context.Context, tx meta.Store, ref library.Ref, repo meta.Repository, img meta.Image) (oci.Descriptor, error) {
	if err := tx.PutBlob(ctx, img.Digest, img.Size); err != nil {
		return oci.Descriptor{}, err
	}
	if err := tx.LinkBlob(ctx, repo.ID, img.Digest); err != nil {
		return oci.Descriptor{}, err
	}
	if img.ManifestDigest != "" {
		m, err := tx.GetManifest(ctx, repo.ID, img.ManifestDigest)
		if err == nil {
			return oci.Descriptor{MediaType: m.MediaType, Digest: digest.Digest(m.Digest), Size: m.Size}, nil
		}
		if !apperr.Is(err, apperr.NotFound) {
			return oci.Descriptor{}, err
		}
	}
	if err := s.ensureEmptyJSON(ctx, tx, repo); err != nil {
		return oci.Descriptor{}, err
	}
	body, err := sifManifest(ref, img)
	if err != nil {
		return oci.Descriptor{}, err
	}
	d := digest.FromBytes(body)
	parsed, _ := oci.ParseManifest(body)
	row := manifestRow(d, oci.MediaTypeImageManifest, body, parsed)
	row.RepositoryID = repo.ID
	if err := tx.PutManifest(ctx, &row, refDigests(parsed)); err != nil {
		return oci.Descriptor{}, err
	}
	// Record the manifest on the image, so later tags and a pull by the
	// library's hash find the same bytes.
	cur, err := tx.GetImage(ctx, img.ID)
	if err != nil {
		return oci.Descriptor{}, err
	}
	if cur.ManifestDigest != d.String() {
		cur.ManifestDigest = d.String()
		if err := tx.UpdateImage(ctx, &cur); err != nil {
			return oci.Descriptor{}, err
		}
	}
	return oci.Descriptor{MediaType: oci.MediaTypeImageManifest, Digest: d, Size: int64(len(body))}, nil
}

// sifManifest is the artifact manifest SingularityCE's `push oras://`
// writes (notes §4.6), so every Singularity and Apptainer pulls it.
func sifManifest(ref library.Ref, img meta.Image) ([]byte, error) {
	d := digest.Digest(img.Digest)
	short := d.Encoded()
	if len(short) > 12 {
		short = short[:12]
	}
	return json.Marshal(oci.Manifest{
		SchemaVersion: 2,
		MediaType:     oci.MediaTypeImageManifest,
		Config:        &oci.Descriptor{MediaType: oci.SIFConfigMediaType, Digest: oci.EmptyJSONDigest, Size: int64(len(oci.EmptyJSON))},
		Layers: []oci.Descriptor{{MediaType: oci.SIFLayerMediaType, Digest: d, Size: img.Size,
			Annotations: map[string]string{oci.AnnotationTitle: ref.Container.Name + "_" + short + ".sif"}}},
	})
}

// ensureEmptyJSON stores the two-byte {} config blob and links it to repo.
func (s *Service) ensureEmptyJSON(ctx context.Context, tx meta.Store, repo meta.Repository) error {
	if !s.emptyJSON.Load() {
		if _, err := s.blobs.Stat(ctx, oci.EmptyJSONDigest); apperr.Is(err, apperr.NotFound) {
			w, err := s.blobs.NewUpload(ctx, digest.SHA256)
			if err != nil {
				return err
			}
			if _, err := w.Write(oci.EmptyJSON); err != nil {
				return errors.Join(err, w.Cancel(ctx))
			}
			if _, err := w.Commit(ctx, oci.EmptyJSONDigest, int64(len(oci.EmptyJSON))); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		s.emptyJSON.Store(true)
	}
	if err := tx.PutBlob(ctx, oci.EmptyJSONDigest.String(), int64(len(oci.EmptyJSON))); err != nil {
		return err
	}
	return tx.LinkBlob(ctx, repo.ID, oci.EmptyJSONDigest.String())
}
