package library

import (
	"context"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
)

// TagRequest is a tag POST (LA §6.6). Arch is set by the v2 API only.
type TagRequest struct {
	Tag     string
	ImageID string
	Arch    string
	V2      bool
}

// setTag is the one implementation of "point tag at img" (tag POSTs and
// AddImage): a new tag is added; an existing tag naming another image is
// moved, unless the container is frozen (seed 003: "permission denied").
func (s *Service) setTag(ctx context.Context, tx meta.Store, ref Ref, img meta.Image, tag string) error {
	if err := checkTag(tag); err != nil {
		return err
	}
	if !img.Uploaded {
		return apperr.New(apperr.Invalid, "image %s has not been uploaded yet", img.ID)
	}
	old, err := tx.GetLibraryTag(ctx, ref.Container.ID, img.Arch, tag)
	switch {
	case err == nil && old.ImageID == img.ID:
		return nil
	case err == nil && ref.Container.Frozen:
		return denied("container %s is frozen; tag %q cannot be replaced", ref.Path(), tag)
	case err != nil && !apperr.Is(err, apperr.NotFound):
		return err
	}
	if ref.Container.Frozen {
		if err := frozenShadow(ctx, tx, ref, img, tag); err != nil {
			return err
		}
	}
	t := meta.LibraryTag{ContainerID: ref.Container.ID, Arch: img.Arch, Tag: tag, ImageID: img.ID}
	if err := tx.SetLibraryTag(ctx, &t); err != nil {
		return err
	}
	if s.Mirror != nil {
		return s.Mirror.TagsChanged(ctx, tx, ref, tag)
	}
	return nil
}

// frozenShadow refuses, in a frozen container, a new tag row that would
// change what an existing tag resolves to (resolveTag): an
// architecture-specific tag takes over the pulls an architecture-less tag
// of the same name answered for that architecture, and an
// architecture-less tag takes over the pulls without arch and the
// fallback for every other architecture.
func frozenShadow(ctx context.Context, tx meta.Store, ref Ref, img meta.Image, tag string) error {
	tags, err := tx.ListLibraryTags(ctx, ref.Container.ID)
	if err != nil {
		return err
	}
	for _, t := range tags {
		if t.Tag == tag && t.ImageID != img.ID && (t.Arch == "" || img.Arch == "") {
			return denied("container %s is frozen; tag %q cannot be replaced", ref.Path(), tag)
		}
	}
	return nil
}

// SetTag answers POST /v1/tags/{containerID} and /v2/tags/{containerID}.
// The v1 API tags the image's own architecture; the v2 API's Arch is how a
// server learns an image's architecture when its SIF header has none, and
// must agree with it otherwise.
func (s *Service) SetTag(ctx context.Context, p auth.Principal, containerID string, req TagRequest) error {
	if err := checkArch(req.Arch); err != nil {
		return err
	}
	return s.meta.InTx(ctx, func(tx meta.Store) error {
		ref, err := s.containerRef(ctx, tx, p, containerID)
		if err != nil {
			return err
		}
		if err := s.writable(ctx, tx, p, ref); err != nil {
			return err
		}
		img, err := tx.GetImage(ctx, req.ImageID)
		if apperr.Is(err, apperr.NotFound) || (err == nil && img.ContainerID != ref.Container.ID) {
			return notFound("image", req.ImageID+" in container "+ref.Path())
		}
		if err != nil {
			return err
		}
		if req.V2 && req.Arch != "" && img.Arch != req.Arch {
			if img.Arch != "" {
				return apperr.New(apperr.Invalid, "image %s is for %s, not %s", img.ID, img.Arch, req.Arch)
			}
			img.Arch = req.Arch
			if err := tx.UpdateImage(ctx, &img); err != nil {
				return err
			}
		}
		return s.setTag(ctx, tx, ref, img, req.Tag)
	})
}

// GetTags answers GET /v1/tags/{id} and /v2/tags/{id}: a visible
// container's tags.
func (s *Service) GetTags(ctx context.Context, p auth.Principal, containerID string) ([]meta.LibraryTag, error) {
	var tags []meta.LibraryTag
	err := s.meta.InTx(ctx, func(tx meta.Store) error {
		ref, err := s.containerRef(ctx, tx, p, containerID)
		if err != nil {
			return err
		}
		tags, err = tx.ListLibraryTags(ctx, ref.Container.ID)
		return err
	})
	return tags, err
}

// AddImage registers a committed SIF blob as an uploaded image of ref with
// the given tags, inside tx (the OCI push path). The architecture is read
// from the SIF header unless arch is given. manifestDigest, when not "", is
// recorded so the mirror can reuse the pushed manifest. Tags follow the
// frozen rule; each calls Mirror.TagsChanged as a library push does, and a
// newly uploaded image calls Mirror.ImageUploaded first.
func (s *Service) AddImage(ctx context.Context, tx meta.Store, p auth.Principal, ref Ref, blob digest.Digest, size int64, arch string, tags []string, manifestDigest string) (meta.Image, error) {
	if err := s.writable(ctx, tx, p, ref); err != nil {
		return meta.Image{}, err
	}
	if err := checkArch(arch); err != nil {
		return meta.Image{}, err
	}
	for _, t := range tags {
		if err := checkTag(t); err != nil {
			return meta.Image{}, err
		}
	}
	info, err := s.blobs.Stat(ctx, blob)
	if err != nil {
		return meta.Image{}, err
	}
	if size >= 0 && info.Size != size {
		return meta.Image{}, apperr.New(apperr.Invalid, "blob %s has %d bytes, not %d", blob, info.Size, size)
	}
	sm := s.readSIF(ctx, blob)
	if arch != "" {
		// As for the v2 tag POST: the header wins; a caller's arch only
		// fills in for a SIF that does not say.
		if sm.Arch != "" && sm.Arch != arch {
			return meta.Image{}, apperr.New(apperr.Invalid, "the SIF is built for %s, not %s", sm.Arch, arch)
		}
		sm.Arch = arch
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
	img, err = s.markUploaded(ctx, tx, ref, img, info.Size, sm)
	if err != nil {
		return img, err
	}
	for _, t := range tags {
		if err := s.setTag(ctx, tx, ref, img, t); err != nil {
			return img, err
		}
	}
	return img, nil
}
