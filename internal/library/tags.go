package library

import (
	"context"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/meta"
)

// TagRequest is a tag POST (LA §6.6). Arch is set by the v2 API only.
type TagRequest struct {
	Tag     string
	ImageID string
	Arch    string
	V2      bool
}

// SetTag answers POST /v1/tags/{containerID} and /v2/tags/{containerID}.
// The v1 API tags the image's own architecture; the v2 API's Arch is how a
// server learns an image's architecture when its SIF header has none, and
// must agree with it otherwise. The bridge applies the frozen rule.
func (s *Service) SetTag(ctx context.Context, p auth.Principal, containerID string, req TagRequest) error {
	if err := bridge.CheckArch(req.Arch); err != nil {
		return err
	}
	return s.tx(ctx, func(tx Store) error {
		ref, err := s.bridge.ContainerByID(ctx, tx, p, containerID)
		if err != nil {
			return err
		}
		if err := s.bridge.Writable(ctx, tx, p, ref); err != nil {
			return err
		}
		img, err := tx.GetImage(ctx, req.ImageID)
		if apperr.Is(err, apperr.NotFound) || (err == nil && img.ContainerID != ref.Container.ID) {
			return bridge.NotFound("image", req.ImageID+" in container "+ref.Path())
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
		return s.bridge.SetTag(ctx, tx, ref, img, req.Tag)
	})
}

// GetTags answers GET /v1/tags/{id} and /v2/tags/{id}: a visible
// container's tags.
func (s *Service) GetTags(ctx context.Context, p auth.Principal, containerID string) ([]meta.LibraryTag, error) {
	var tags []meta.LibraryTag
	err := s.view(ctx, func(st Store) error {
		ref, err := s.bridge.ContainerByID(ctx, st, p, containerID)
		if err != nil {
			return err
		}
		tags, err = st.ListLibraryTags(ctx, ref.Container.ID)
		return err
	})
	return tags, err
}
