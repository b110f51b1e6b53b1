package bridge

import (
	"context"
	"encoding/json"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
)

// MarkUploaded records a verified blob of size bytes as img's content,
// with what its SIF header says (read before the transaction), and gives
// it its OCI manifest the first time.
func (b *Bridge) MarkUploaded(ctx context.Context, tx Store, ref Ref, img meta.Image, size int64, sif SIF) (meta.Image, error) {
	if err := b.CheckSignaturePolicy(ctx, tx, ref, sif.Meta); err != nil {
		return img, err
	}
	was := img.Uploaded
	img.Uploaded, img.Size = true, size
	if img.Arch == "" {
		img.Arch = sif.Arch
	}
	m, _ := json.Marshal(sif.Meta)
	img.Metadata = string(m)
	if err := tx.UpdateImage(ctx, &img); err != nil {
		return img, err
	}
	if err := storeInspection(ctx, tx, img, sif); err != nil {
		return img, err
	}
	if !was {
		return img, b.imageUploaded(ctx, tx, ref, img)
	}
	return img, nil
}

// CopyImage makes img (new, in ref's container) a complete copy of src,
// an uploaded image with the same content the caller may read.
func (b *Bridge) CopyImage(ctx context.Context, tx Store, ref Ref, img meta.Image, src meta.Image) (meta.Image, error) {
	if err := b.CheckSignaturePolicy(ctx, tx, ref, MetaOf(src)); err != nil {
		return img, err
	}
	img.Uploaded, img.Size, img.Arch, img.Metadata = true, src.Size, src.Arch, src.Metadata
	if err := tx.CreateImage(ctx, &img); err != nil {
		return img, err
	}
	labels, err := tx.GetLabels(ctx, src.ID)
	if err == nil {
		err = tx.SetLabels(ctx, img.ID, labels)
	}
	if err == nil {
		err = b.imageUploaded(ctx, tx, ref, img)
	}
	return img, err
}

// SetTag is the one implementation of "point tag at img" (library tag
// POSTs and OCI pushes alike): a new tag is added; an existing one naming
// another image is moved, unless the container is frozen. A collection's
// signature policy judges the image a tag comes to name, as it judges a
// push: an image stored before the policy cannot gain a tag it would be
// refused under.
func (b *Bridge) SetTag(ctx context.Context, tx Store, ref Ref, img meta.Image, tag string) error {
	if err := CheckTag(tag); err != nil {
		return err
	}
	if !img.Uploaded {
		return apperr.New(apperr.Invalid, "image %s has not been uploaded yet", img.ID)
	}
	old, err := tx.GetLibraryTag(ctx, ref.Container.ID, img.Arch, tag)
	switch {
	case err == nil && old.ImageID == img.ID:
		return nil
	case err != nil && !apperr.Is(err, apperr.NotFound):
		return err
	}
	if err := b.FrozenTag(ctx, tx, ref, tag); err != nil {
		return err
	}
	if err := b.CheckSignaturePolicy(ctx, tx, ref, MetaOf(img)); err != nil {
		return err
	}
	t := meta.LibraryTag{ContainerID: ref.Container.ID, Arch: img.Arch, Tag: tag, ImageID: img.ID}
	if err := tx.SetLibraryTag(ctx, &t); err != nil {
		return err
	}
	return b.tagsChanged(ctx, tx, ref, tag)
}

// FrozenTag is the frozen rule, for both protocols (seed 003: "permission
// denied"): in a frozen container a tag that exists (in the library, for
// any architecture, or as an OCI tag) never changes, nor gains an
// architecture; new tags may be added. Callers ask it only for a change.
func (b *Bridge) FrozenTag(ctx context.Context, st Store, ref Ref, tag string) error {
	if !ref.Container.Frozen {
		return nil
	}
	tags, err := st.ListLibraryTags(ctx, ref.Container.ID)
	if err != nil {
		return err
	}
	exists := false
	for _, t := range tags {
		exists = exists || t.Tag == tag
	}
	if !exists {
		repo, err := st.GetRepositoryByContainer(ctx, ref.Container.ID)
		if err == nil {
			_, err = st.GetTag(ctx, repo.ID, tag)
			exists = err == nil
		}
		if err != nil && !apperr.Is(err, apperr.NotFound) {
			return err
		}
	}
	if exists {
		return Denied("container %s is frozen; tag %q cannot be changed", ref.Path(), tag)
	}
	return nil
}

// FrozenContent refuses, in a frozen container, deleting what its tags
// stand on: a tag, a manifest or image a tag names, or any blob (a blob
// gone would stop a frozen tag from pulling).
func (b *Bridge) FrozenContent(ref Ref, what string) error {
	if !ref.Container.Frozen {
		return nil
	}
	return Denied("container %s is frozen; %s cannot be deleted", ref.Path(), what)
}

// AddImage registers a committed SIF blob (size bytes; sif read from it
// before the transaction) as an uploaded image of ref with the given
// tags, inside tx: what an OCI push of a SIF artifact to a library
// container does. The architecture is the SIF header's unless it says
// none and arch is given. manifestDigest, when not "", is the pushed
// manifest the OCI view keeps serving.
func (b *Bridge) AddImage(ctx context.Context, tx Store, p auth.Principal, ref Ref, blob digest.Digest, size int64, sif SIF, arch string, tags []string, manifestDigest string) (meta.Image, error) {
	if err := b.Writable(ctx, tx, p, ref); err != nil {
		return meta.Image{}, err
	}
	if err := CheckArch(arch); err != nil {
		return meta.Image{}, err
	}
	for _, t := range tags {
		if err := CheckTag(t); err != nil {
			return meta.Image{}, err
		}
	}
	if arch != "" {
		// As for the v2 tag POST: the header wins; a caller's arch only
		// fills in for a SIF that does not say.
		if sif.Arch != "" && sif.Arch != arch {
			return meta.Image{}, apperr.E(apperr.Invalid, apperr.Manifest, "the SIF is built for %s, not %s", sif.Arch, arch)
		}
		sif.Arch = arch
	}
	img, err := tx.GetImageByDigest(ctx, ref.Container.ID, blob.String())
	if apperr.Is(err, apperr.NotFound) {
		img = meta.Image{ContainerID: ref.Container.ID, Digest: blob.String(), CreatedBy: p.UserID}
		err = tx.CreateImage(ctx, &img)
	}
	if err != nil {
		return img, err
	}
	if manifestDigest != "" {
		img.ManifestDigest = manifestDigest
	}
	if img, err = b.MarkUploaded(ctx, tx, ref, img, size, sif); err != nil {
		return img, err
	}
	for _, t := range tags {
		if err := b.SetTag(ctx, tx, ref, img, t); err != nil {
			return img, err
		}
	}
	return img, nil
}

// DeleteImage deletes img of ref with its tags, and its OCI manifest. The
// blob stays for the garbage collector: another image or manifest may
// share it. A frozen container keeps its tagged images.
func (b *Bridge) DeleteImage(ctx context.Context, tx Store, ref Ref, img meta.Image) error {
	tags, err := tx.ListLibraryTags(ctx, ref.Container.ID)
	if err != nil {
		return err
	}
	for _, t := range tags {
		if t.ImageID == img.ID {
			if err := b.FrozenContent(ref, "its tagged images"); err != nil {
				return err
			}
		}
	}
	if err := tx.DeleteImage(ctx, img.ID); err != nil {
		return err
	}
	return b.imageDeleted(ctx, tx, ref, img)
}
