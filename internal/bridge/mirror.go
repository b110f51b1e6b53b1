package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sort"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
	"github.com/silo-hpc/silo/internal/quota"
)

// The OCI view of library containers: every library image is also an OCI
// artifact of its container's repository, as `singularity push oras://`
// would have written it, so `oras://` pulls what `library://` pushed. Tags
// follow the library's: one architecture gives the plain manifest (what
// `singularity pull oras://` needs), several give an image index with a
// platform per architecture.

// Prepare stores the two-byte {} config blob every SIF artifact names, so
// the mirror only ever records it inside a transaction (no blob I/O
// there). The composition calls it once at start.
func (b *Bridge) Prepare(ctx context.Context) error {
	if _, err := b.blobs.Stat(ctx, oci.EmptyJSONDigest); err == nil {
		b.emptyJSON.Store(true)
		return nil
	} else if !apperr.Is(err, apperr.NotFound) {
		return err
	}
	w, err := b.blobs.NewUpload(ctx, digest.SHA256)
	if err != nil {
		return err
	}
	if _, err := w.Write(oci.EmptyJSON); err != nil {
		return errors.Join(err, w.Cancel(ctx))
	}
	if _, err := w.Commit(ctx, oci.EmptyJSONDigest, int64(len(oci.EmptyJSON))); err != nil {
		return err
	}
	b.emptyJSON.Store(true)
	return nil
}

// LibraryRepo returns the repository row of a library container, creating
// it on first use. A plain repository of the same name from before the
// library knew the container becomes the container's.
func LibraryRepo(ctx context.Context, tx Store, ref Ref) (meta.Repository, error) {
	repo, err := tx.GetRepositoryByContainer(ctx, ref.Container.ID)
	if !apperr.Is(err, apperr.NotFound) {
		return repo, err
	}
	if repo, err = tx.GetRepository(ctx, ref.Path()); err == nil {
		repo.ContainerID = ref.Container.ID
		return repo, tx.UpdateRepository(ctx, &repo)
	}
	repo = meta.Repository{Name: ref.Path(), ContainerID: ref.Container.ID, OwnerID: ref.Collection.OwnerID}
	return repo, tx.CreateRepository(ctx, &repo)
}

// imageUploaded records img's blob in the repository and gives img its
// manifest: the one an OCI push supplied, or a SIF artifact made here.
func (b *Bridge) imageUploaded(ctx context.Context, tx Store, ref Ref, img meta.Image) error {
	repo, err := LibraryRepo(ctx, tx, ref)
	if err != nil {
		return err
	}
	_, err = b.imageManifest(ctx, tx, ref, repo, img)
	return err
}

// tagsChanged points the OCI tag at what the library tag now names.
func (b *Bridge) tagsChanged(ctx context.Context, tx Store, ref Ref, tag string) error {
	repo, err := LibraryRepo(ctx, tx, ref)
	if err != nil {
		return err
	}
	return b.syncTag(ctx, tx, ref, repo, tag)
}

// imageDeleted removes img's manifest (and so the OCI tags on it) and
// rebuilds the multi-architecture indexes that listed it.
func (b *Bridge) imageDeleted(ctx context.Context, tx Store, ref Ref, img meta.Image) error {
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
			if err := b.syncTag(ctx, tx, ref, repo, t.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// syncTag makes OCI tag agree with the library tag of the same name.
func (b *Bridge) syncTag(ctx context.Context, tx Store, ref Ref, repo meta.Repository, tag string) error {
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
		desc, err := b.imageManifest(ctx, tx, ref, repo, img)
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
	row := ManifestRow(d, oci.MediaTypeImageIndex, idx, parsed)
	row.RepositoryID = repo.ID
	if err := tx.PutManifest(ctx, &row, RefDigests(parsed)); err != nil {
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
func (b *Bridge) imageManifest(ctx context.Context, tx Store, ref Ref, repo meta.Repository, img meta.Image) (oci.Descriptor, error) {
	if err := tx.PutBlob(ctx, img.Digest, img.Size); err != nil {
		return oci.Descriptor{}, err
	}
	if err := quota.Charge(ctx, tx, Owners(ref), img.Digest, img.Size); err != nil {
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
	if err := b.linkEmptyJSON(ctx, tx, ref, repo); err != nil {
		return oci.Descriptor{}, err
	}
	body, err := sifManifest(ref, img)
	if err != nil {
		return oci.Descriptor{}, err
	}
	d := digest.FromBytes(body)
	parsed, _ := oci.ParseManifest(body)
	row := ManifestRow(d, oci.MediaTypeImageManifest, body, parsed)
	row.RepositoryID = repo.ID
	if err := tx.PutManifest(ctx, &row, RefDigests(parsed)); err != nil {
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
// writes (docs/protocols/oci-and-auth.md §4.6), so every Singularity and
// Apptainer pulls it.
func sifManifest(ref Ref, img meta.Image) ([]byte, error) {
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

// linkEmptyJSON records the {} config blob (stored by Prepare) and links
// it to repo.
func (b *Bridge) linkEmptyJSON(ctx context.Context, tx Store, ref Ref, repo meta.Repository) error {
	if !b.emptyJSON.Load() {
		return apperr.New(apperr.Internal, "the SIF config blob is not prepared")
	}
	if err := tx.PutBlob(ctx, oci.EmptyJSONDigest.String(), int64(len(oci.EmptyJSON))); err != nil {
		return err
	}
	if err := quota.Charge(ctx, tx, Owners(ref), oci.EmptyJSONDigest.String(), int64(len(oci.EmptyJSON))); err != nil {
		return err
	}
	return tx.LinkBlob(ctx, repo.ID, oci.EmptyJSONDigest.String())
}

// Owners are whose quotas a library container's bytes count against: its
// collection and the collection's owner (internal/quota holds the rule).
func Owners(ref Ref) quota.Owners {
	return quota.ForCollection(ref.Collection, ref.Entity.Name+"/"+ref.Collection.Name+"/"+ref.Container.Name)
}
