package bridge

import (
	"context"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

// Deleting library things, for both views: what goes from the library
// goes from OCI in the same transaction. Blobs stay for the garbage
// collector (another image or manifest may share them). A frozen
// container keeps everything its tags stand on (FrozenContent).

// DeleteTag removes one library tag of one architecture; the OCI tag of
// that name follows what remains (another architecture's image, or
// nothing).
func (b *Bridge) DeleteTag(ctx context.Context, tx Store, ref Ref, arch, tag string) error {
	if err := b.FrozenContent(ref, "its tags"); err != nil {
		return err
	}
	err := tx.DeleteLibraryTag(ctx, ref.Container.ID, arch, tag)
	if apperr.Is(err, apperr.NotFound) {
		return NotFound("tag", tag+archSuffix(arch)+" in "+ref.Path())
	}
	if err != nil {
		return err
	}
	return b.tagsChanged(ctx, tx, ref, tag)
}

func archSuffix(arch string) string {
	if arch == "" {
		return ""
	}
	return " (" + arch + ")"
}

// DeleteContainer removes a container with its images, tags, labels and
// OCI repository (the database cascades). It returns the deleted images
// so the caller can end their upload sessions.
func (b *Bridge) DeleteContainer(ctx context.Context, tx Store, ref Ref) ([]meta.Image, error) {
	if err := b.FrozenContent(ref, "it"); err != nil {
		return nil, err
	}
	imgs, err := tx.ListImages(ctx, ref.Container.ID)
	if err != nil {
		return nil, err
	}
	return imgs, tx.DeleteContainer(ctx, ref.Container.ID)
}

// DeleteCollection removes a collection with everything in it, unless
// one of its containers is frozen. It returns the deleted images.
func (b *Bridge) DeleteCollection(ctx context.Context, tx Store, ref Ref) ([]meta.Image, error) {
	cons, err := tx.ListContainers(ctx, ref.Collection.ID)
	if err != nil {
		return nil, err
	}
	var imgs []meta.Image
	for _, k := range cons {
		r := ref
		r.Container = k
		if err := b.FrozenContent(r, "its collection"); err != nil {
			return nil, err
		}
		some, err := tx.ListImages(ctx, k.ID)
		if err != nil {
			return nil, err
		}
		imgs = append(imgs, some...)
	}
	return imgs, tx.DeleteCollection(ctx, ref.Collection.ID)
}
