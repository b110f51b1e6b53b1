package library

import (
	"context"
	"fmt"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
)

// containerRef loads a container by id with its parents, NotFound when
// the caller may not see it.
func (s *Service) containerRef(ctx context.Context, st meta.Store, p auth.Principal, id string) (Ref, error) {
	k, err := st.GetContainer(ctx, id)
	if apperr.Is(err, apperr.NotFound) {
		return Ref{}, notFound("container", id)
	}
	if err != nil {
		return Ref{}, err
	}
	ref, err := s.collectionRef(ctx, st, k.CollectionID)
	if err != nil {
		return Ref{}, err
	}
	ref.Container = k
	if err := s.readable(ctx, st, p, ref.Collection, id); err != nil {
		return Ref{}, notFound("container", id)
	}
	return ref, nil
}

// containerByPath resolves e/c/n, NotFound when missing or invisible.
func (s *Service) containerByPath(ctx context.Context, st meta.Store, p auth.Principal, ent, col, con string) (Ref, error) {
	if err := checkName("container", con); err != nil {
		return Ref{}, err
	}
	e, c, err := s.collectionByName(ctx, st, p, ent, col)
	if err != nil {
		return Ref{}, err
	}
	k, err := st.GetContainerByName(ctx, c.ID, con)
	if apperr.Is(err, apperr.NotFound) {
		return Ref{}, notFound("container", ent+"/"+col+"/"+con)
	}
	return Ref{Entity: e, Collection: c, Container: k}, err
}

// ContainerInfo is a container with its images and tags.
type ContainerInfo struct {
	Ref
	Images []meta.Image // uploaded images, oldest first
	Tags   []meta.LibraryTag
}

func (s *Service) containerInfo(ctx context.Context, st meta.Store, ref Ref) (ContainerInfo, error) {
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
	err := s.meta.InTx(ctx, func(tx meta.Store) error {
		ref, err := s.containerByPath(ctx, tx, p, ent, col, con)
		if err != nil {
			return err
		}
		info, err = s.containerInfo(ctx, tx, ref)
		return err
	})
	return info, err
}

// CreateContainer answers POST /v1/containers: the collection's owner (or
// an admin) adds a container.
func (s *Service) CreateContainer(ctx context.Context, p auth.Principal, collectionID, name, description string) (ContainerInfo, error) {
	var info ContainerInfo
	err := s.meta.InTx(ctx, func(tx meta.Store) error {
		if err := requireUser(p); err != nil {
			return err
		}
		ref, err := s.collectionRef(ctx, tx, collectionID)
		if err != nil {
			return err
		}
		// Invisible is NotFound under the id asked for, not the name.
		if err := s.readable(ctx, tx, p, ref.Collection, collectionID); err != nil {
			return err
		}
		if err := s.writable(ctx, tx, p, ref); err != nil {
			return err
		}
		if err := checkName("container", name); err != nil {
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
	err := s.meta.InTx(ctx, func(tx meta.Store) error {
		ref, err := s.containerRef(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if err := s.writable(ctx, tx, p, ref); err != nil {
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
		info, err = s.containerInfo(ctx, tx, ref)
		return err
	})
	return info, err
}

// ContainerForPull resolves "entity/collection/container" for a reader:
// NotFound if it is missing or the caller may not see it.
func (s *Service) ContainerForPull(ctx context.Context, p auth.Principal, path string) (Ref, error) {
	ent, col, con, err := splitPath(path)
	if err != nil {
		return Ref{}, err
	}
	return s.containerByPath(ctx, s.meta, p, ent, col, con)
}

// ContainerForPush finds or creates entity, collection and container for a
// push by p, inside tx, applying every push rule: users get their own
// entity; collections are created where access.Checker allows it (with the
// server's default privacy); only the collection's owner and admins push
// (collaborators may not); a collection p cannot see is NotFound.
func (s *Service) ContainerForPush(ctx context.Context, tx meta.Store, p auth.Principal, path string) (Ref, error) {
	if err := requireUser(p); err != nil {
		return Ref{}, err
	}
	ent, col, con, err := splitPath(path)
	if err != nil {
		return Ref{}, err
	}
	var ref Ref
	ref.Entity, err = tx.GetEntityByName(ctx, ent)
	if apperr.Is(err, apperr.NotFound) {
		ref.Entity, err = s.createEntity(ctx, tx, p, ent, "")
	}
	if err != nil {
		return Ref{}, err
	}
	ref.Collection, err = tx.GetCollectionByName(ctx, ref.Entity.ID, col)
	if apperr.Is(err, apperr.NotFound) {
		ref.Collection, err = s.createCollection(ctx, tx, p, ref.Entity, col, "", nil)
		if apperr.Is(err, apperr.Conflict) {
			// It appeared after we looked: a concurrent push created it.
			// The transaction reruns and finds it.
			err = fmt.Errorf("%w: %w", meta.ErrLostRace, err)
		}
	}
	if err != nil {
		return Ref{}, err
	}
	if err := s.writable(ctx, tx, p, ref); err != nil {
		return Ref{}, err
	}
	ref.Container, err = tx.GetContainerByName(ctx, ref.Collection.ID, con)
	if apperr.Is(err, apperr.NotFound) {
		ref.Container = meta.Container{CollectionID: ref.Collection.ID, Name: con}
		err = tx.CreateContainer(ctx, &ref.Container)
	}
	return ref, err
}

// OCIPushTarget decides whether a push to namespace (LA §5.1) may go over
// OCI, returning the mapped entity/collection/container name. Frozen
// containers are kept on the Library API: its tag calls report a refused
// replacement as "permission denied", while the client's OCI path shows
// only a bare status code.
func (s *Service) OCIPushTarget(ctx context.Context, p auth.Principal, namespace string) (string, error) {
	if err := requireUser(p); err != nil {
		return "", err
	}
	ref, err := ParseImageRef(namespace)
	if err != nil {
		return "", err
	}
	name := ref.Entity + "/" + ref.Collection + "/" + ref.Container
	existing, err := s.ContainerForPull(ctx, p, name)
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
