package library

import (
	"context"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/meta"
)

// EntityInfo is an entity with the collections the caller may see.
type EntityInfo struct {
	Entity      meta.Entity
	Collections []meta.Collection
	// MayCreate says the caller may create collections in it (the rule
	// and the live policy, for showing the form; creating checks again).
	MayCreate bool
}

// CollectionInfo is a collection with its entity and containers.
type CollectionInfo struct {
	Entity     meta.Entity
	Collection meta.Collection
	Containers []meta.Container
}

// CollectionUpdate changes a collection; nil fields stay.
type CollectionUpdate struct {
	Private     *bool
	Description *string
}

// ContainerUpdate changes a container; nil fields stay.
type ContainerUpdate struct {
	Frozen      *bool
	Description *string
}

// GetEntity answers GET /v1/entities/{name}. A user's first request for
// their own entity creates it (seed 003's curl flow starts there), so it
// is a read-write transaction only then.
func (s *Service) GetEntity(ctx context.Context, p auth.Principal, name string) (EntityInfo, error) {
	var info EntityInfo
	get := func(st Store, create bool) error {
		e, err := s.bridge.EntityByName(ctx, st, p, name, create)
		if err != nil {
			return err
		}
		info.Entity = e
		if info.Collections, err = s.visibleCollections(ctx, st, p, e.ID); err != nil {
			return err
		}
		rules, err := s.bridge.Rules(ctx, st)
		info.MayCreate = rules.CanCreateCollection(p, e)
		return err
	}
	err := s.view(ctx, func(st Store) error { return get(st, false) })
	if apperr.Is(err, apperr.NotFound) && !p.Anonymous() && p.Name == name {
		err = s.tx(ctx, func(tx Store) error { return get(tx, true) })
	}
	return info, err
}

func (s *Service) visibleCollections(ctx context.Context, st Store, p auth.Principal, entityID string) ([]meta.Collection, error) {
	cols, err := st.ListCollections(ctx, entityID)
	if err != nil {
		return nil, err
	}
	out := cols[:0]
	for _, c := range cols {
		ok, err := s.access.CanReadCollection(ctx, st, p, c)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// CreateEntity answers POST /v1/entities.
func (s *Service) CreateEntity(ctx context.Context, p auth.Principal, name, description string) (meta.Entity, error) {
	var e meta.Entity
	err := s.tx(ctx, func(tx Store) error {
		var err error
		e, err = s.bridge.CreateEntity(ctx, tx, p, name, description)
		return err
	})
	return e, err
}

// GetCollection answers GET /v1/collections/{entity}/{collection}.
func (s *Service) GetCollection(ctx context.Context, p auth.Principal, entity, name string) (CollectionInfo, error) {
	var info CollectionInfo
	err := s.view(ctx, func(st Store) error {
		e, c, err := s.bridge.CollectionByName(ctx, st, p, entity, name, false)
		if err != nil {
			return err
		}
		info.Entity, info.Collection = e, c
		info.Containers, err = st.ListContainers(ctx, c.ID)
		return err
	})
	return info, err
}

// CreateCollection answers POST /v1/collections. private nil takes the
// server's default_private (seed 003).
func (s *Service) CreateCollection(ctx context.Context, p auth.Principal, entityID, name, description string, private *bool) (CollectionInfo, error) {
	var info CollectionInfo
	err := s.tx(ctx, func(tx Store) error {
		if err := bridge.RequireUser(p); err != nil {
			return err
		}
		e, err := tx.GetEntity(ctx, entityID)
		if apperr.Is(err, apperr.NotFound) {
			return bridge.NotFound("entity", entityID)
		}
		if err != nil {
			return err
		}
		info.Entity = e
		info.Collection, err = s.bridge.CreateCollection(ctx, tx, p, e, name, description, private)
		return err
	})
	return info, err
}

// UpdateCollection changes privacy or description: owners and admins.
func (s *Service) UpdateCollection(ctx context.Context, p auth.Principal, id string, u CollectionUpdate) (CollectionInfo, error) {
	var info CollectionInfo
	err := s.tx(ctx, func(tx Store) error {
		ref, err := s.bridge.CollectionByID(ctx, tx, id)
		if err != nil {
			return err
		}
		// An invisible collection is NotFound under the id asked for, as
		// a missing one: its name must not show in the message.
		if err := s.bridge.Readable(ctx, tx, p, ref.Collection, id); err != nil {
			return err
		}
		if err := s.bridge.Writable(ctx, tx, p, ref); err != nil {
			return err
		}
		c := ref.Collection
		if u.Private != nil {
			c.Private = *u.Private
		}
		if u.Description != nil {
			c.Description = *u.Description
		}
		if err := tx.UpdateCollection(ctx, &c); err != nil {
			return err
		}
		info.Entity, info.Collection = ref.Entity, c
		info.Containers, err = tx.ListContainers(ctx, c.ID)
		return err
	})
	return info, err
}

// CurrentUser answers GET /v1/rbac/users/current.
func (s *Service) CurrentUser(ctx context.Context, p auth.Principal) (meta.User, error) {
	if err := bridge.RequireUser(p); err != nil {
		return meta.User{}, err
	}
	return s.meta.GetUser(ctx, p.UserID)
}
