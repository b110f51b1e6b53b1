package library

import (
	"context"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/meta"
)

// ContainerInfo is a container with its images and tags.
type ContainerInfo struct {
	Ref
	Images []meta.Image // uploaded images, oldest first
	Tags   []meta.LibraryTag
}

func containerInfo(ctx context.Context, st Store, ref Ref) (ContainerInfo, error) {
	info := ContainerInfo{Ref: ref}
	imgs, err := st.ListImages(ctx, ref.Container.ID)
	if err != nil {
		return info, err
	}
	for _, i := range imgs {
		if i.Uploaded {
			info.Images = append(info.Images, i)
		}
	}
	info.Tags, err = st.ListLibraryTags(ctx, ref.Container.ID)
	return info, err
}

// GetContainer answers GET /v1/containers/{entity}/{collection}/{container}.
func (s *Service) GetContainer(ctx context.Context, p auth.Principal, ent, col, con string) (ContainerInfo, error) {
	var info ContainerInfo
	err := s.view(ctx, func(st Store) error {
		ref, err := s.bridge.ContainerByPath(ctx, st, p, ent, col, con)
		if err != nil {
			return err
		}
		info, err = containerInfo(ctx, st, ref)
		return err
	})
	return info, err
}

// ContainerByPath resolves "entity/collection/container" for a reader
// (the admin commands use it).
func (s *Service) ContainerByPath(ctx context.Context, p auth.Principal, path string) (Ref, error) {
	var ref Ref
	err := s.view(ctx, func(st Store) error {
		var err error
		ref, err = s.bridge.ContainerForPull(ctx, st, p, path)
		return err
	})
	return ref, err
}

// CreateContainer answers POST /v1/containers: the collection's owner (or
// an admin) adds a container.
func (s *Service) CreateContainer(ctx context.Context, p auth.Principal, collectionID, name, description string) (ContainerInfo, error) {
	var info ContainerInfo
	err := s.tx(ctx, func(tx Store) error {
		if err := bridge.RequireUser(p); err != nil {
			return err
		}
		ref, err := s.bridge.CollectionByID(ctx, tx, collectionID)
		if err != nil {
			return err
		}
		// Invisible is NotFound under the id asked for, not the name.
		if err := s.bridge.Readable(ctx, tx, p, ref.Collection, collectionID); err != nil {
			return err
		}
		if err := s.bridge.Writable(ctx, tx, p, ref); err != nil {
			return err
		}
		if err := bridge.CheckName("container", name); err != nil {
			return err
		}
		ref.Container = meta.Container{CollectionID: ref.Collection.ID, Name: name, Description: description}
		if err := tx.CreateContainer(ctx, &ref.Container); err != nil {
			if apperr.Is(err, apperr.Conflict) {
				return apperr.Wrap(apperr.Conflict, err, "container %s already exists", ref.Path())
			}
			return err
		}
		info = ContainerInfo{Ref: ref}
		return nil
	})
	return info, err
}

// UpdateContainer freezes, unfreezes or describes a container: owners and
// admins.
func (s *Service) UpdateContainer(ctx context.Context, p auth.Principal, id string, u ContainerUpdate) (ContainerInfo, error) {
	var info ContainerInfo
	err := s.tx(ctx, func(tx Store) error {
		ref, err := s.bridge.ContainerByID(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if err := s.bridge.Writable(ctx, tx, p, ref); err != nil {
			return err
		}
		if u.Frozen != nil {
			ref.Container.Frozen = *u.Frozen
		}
		if u.Description != nil {
			ref.Container.Description = *u.Description
		}
		if err := tx.UpdateContainer(ctx, &ref.Container); err != nil {
			return err
		}
		info, err = containerInfo(ctx, tx, ref)
		return err
	})
	return info, err
}

// OCIPushTarget decides whether a push to namespace (LA §5.1) may go over
// OCI, returning the mapped entity/collection/container name. Frozen
// containers are kept on the Library API: its tag calls report a refused
// replacement as "permission denied", while the client's OCI path shows
// only a bare status code.
func (s *Service) OCIPushTarget(ctx context.Context, p auth.Principal, namespace string) (string, error) {
	if err := bridge.RequireUser(p); err != nil {
		return "", err
	}
	ref, err := ParseImageRef(namespace)
	if err != nil {
		return "", err
	}
	name := ref.Entity + "/" + ref.Collection + "/" + ref.Container
	existing, err := s.ContainerByPath(ctx, p, name)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return name, nil // created by the push, under the same rules
	case err != nil:
		return "", err
	case existing.Container.Frozen:
		return "", apperr.New(apperr.NotFound, "frozen containers are pushed through the Library API")
	}
	return name, nil
}
