package library

import (
	"context"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
)

// EntityInfo is an entity with the collections the caller may see.
type EntityInfo struct {
	Entity      meta.Entity
	Collections []meta.Collection
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

// notFound hides what the caller may not see behind the same answer as
// what does not exist (LA §1.6, §3.4).
func notFound(kind, name string) error {
	return apperr.New(apperr.NotFound, "%s %s not found", kind, name)
}

// readable returns NotFound unless p may read col.
func (s *Service) readable(ctx context.Context, st meta.Store, p auth.Principal, col meta.Collection, name string) error {
	ok, err := s.access.CanReadCollection(ctx, st, p, col)
	if err != nil {
		return err
	}
	if !ok {
		return notFound("collection", name)
	}
	return nil
}

// writable checks p may change what is in a collection p can see.
func (s *Service) writable(ctx context.Context, st meta.Store, p auth.Principal, ref Ref) error {
	if err := requireUser(p); err != nil {
		return err
	}
	if err := s.readable(ctx, st, p, ref.Collection, ref.Entity.Name+"/"+ref.Collection.Name); err != nil {
		return err
	}
	if !s.access.CanWriteCollection(p, ref.Collection) {
		return denied("only the owner of collection %s/%s may change it", ref.Entity.Name, ref.Collection.Name)
	}
	return nil
}

// entityByName finds an entity. A user asking for their own, not yet
// existing, entity gets it created: each user owns the entity of their
// name, and the curl flow of seed 003 starts with GET /v1/entities/<me>.
func (s *Service) entityByName(ctx context.Context, st meta.Store, p auth.Principal, name string) (meta.Entity, error) {
	if err := checkName("entity", name); err != nil {
		return meta.Entity{}, err
	}
	e, err := st.GetEntityByName(ctx, name)
	if apperr.Is(err, apperr.NotFound) && !p.Anonymous() && p.Name == name {
		e, err = s.createEntity(ctx, st, p, name, "")
		if apperr.Is(err, apperr.Conflict) {
			// A concurrent first request created it: use that one.
			return st.GetEntityByName(ctx, name)
		}
		return e, err
	}
	if apperr.Is(err, apperr.NotFound) {
		return e, notFound("entity", name)
	}
	return e, err
}

// createEntity applies the entity creation rule. An entity named after a
// user belongs to that user.
func (s *Service) createEntity(ctx context.Context, st meta.Store, p auth.Principal, name, description string) (meta.Entity, error) {
	if err := requireUser(p); err != nil {
		return meta.Entity{}, err
	}
	if err := checkName("entity", name); err != nil {
		return meta.Entity{}, err
	}
	if !s.access.CanCreateEntity(p, name) {
		return meta.Entity{}, denied("you may only create the entity %q named after you", p.Name)
	}
	e := meta.Entity{Name: name, Description: description, DefaultPrivate: s.access.Policy.DefaultPrivate}
	if u, err := st.GetUserByName(ctx, name); err == nil {
		e.OwnerID = u.ID
	} else if !apperr.Is(err, apperr.NotFound) {
		return e, err
	}
	if err := st.CreateEntity(ctx, &e); err != nil {
		if apperr.Is(err, apperr.Conflict) {
			return e, apperr.Wrap(apperr.Conflict, err, "entity %s already exists", name)
		}
		return e, err
	}
	return e, nil
}

// GetEntity answers GET /v1/entities/{name}.
func (s *Service) GetEntity(ctx context.Context, p auth.Principal, name string) (EntityInfo, error) {
	var info EntityInfo
	err := s.meta.InTx(ctx, func(tx meta.Store) error {
		e, err := s.entityByName(ctx, tx, p, name)
		if err != nil {
			return err
		}
		info.Entity = e
		info.Collections, err = s.visibleCollections(ctx, tx, p, e.ID)
		return err
	})
	return info, err
}

func (s *Service) visibleCollections(ctx context.Context, st meta.Store, p auth.Principal, entityID string) ([]meta.Collection, error) {
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
	err := s.meta.InTx(ctx, func(tx meta.Store) error {
		var err error
		e, err = s.createEntity(ctx, tx, p, name, description)
		return err
	})
	return e, err
}

// collectionByName resolves entity/collection, NotFound when invisible.
func (s *Service) collectionByName(ctx context.Context, st meta.Store, p auth.Principal, entity, name string) (meta.Entity, meta.Collection, error) {
	if err := checkName("collection", name); err != nil {
		return meta.Entity{}, meta.Collection{}, err
	}
	e, err := s.entityByName(ctx, st, p, entity)
	if err != nil {
		return e, meta.Collection{}, err
	}
	c, err := st.GetCollectionByName(ctx, e.ID, name)
	if apperr.Is(err, apperr.NotFound) {
		return e, c, notFound("collection", entity+"/"+name)
	}
	if err != nil {
		return e, c, err
	}
	return e, c, s.readable(ctx, st, p, c, entity+"/"+name)
}

// GetCollection answers GET /v1/collections/{entity}/{collection}.
func (s *Service) GetCollection(ctx context.Context, p auth.Principal, entity, name string) (CollectionInfo, error) {
	var info CollectionInfo
	err := s.meta.InTx(ctx, func(tx meta.Store) error {
		e, c, err := s.collectionByName(ctx, tx, p, entity, name)
		if err != nil {
			return err
		}
		info.Entity, info.Collection = e, c
		info.Containers, err = tx.ListContainers(ctx, c.ID)
		return err
	})
	return info, err
}

// CreateCollection answers POST /v1/collections. private nil takes the
// server's default_private (seed 003).
func (s *Service) CreateCollection(ctx context.Context, p auth.Principal, entityID, name, description string, private *bool) (CollectionInfo, error) {
	var info CollectionInfo
	err := s.meta.InTx(ctx, func(tx meta.Store) error {
		if err := requireUser(p); err != nil {
			return err
		}
		e, err := tx.GetEntity(ctx, entityID)
		if apperr.Is(err, apperr.NotFound) {
			return notFound("entity", entityID)
		}
		if err != nil {
			return err
		}
		info.Entity = e
		info.Collection, err = s.createCollection(ctx, tx, p, e, name, description, private)
		return err
	})
	return info, err
}

func (s *Service) createCollection(ctx context.Context, st meta.Store, p auth.Principal, e meta.Entity, name, description string, private *bool) (meta.Collection, error) {
	if err := checkName("collection", name); err != nil {
		return meta.Collection{}, err
	}
	mayCreate := s.access.CanCreateCollection(p, e)
	cannotCreate := denied("you may not create collections in entity %s", e.Name)
	if existing, err := st.GetCollectionByName(ctx, e.ID, name); err == nil {
		// Say "exists" only to who may see it; others get the refusal
		// they would get were it missing, so the name is not confirmed.
		if ok, err := s.access.CanReadCollection(ctx, st, p, existing); err != nil || !ok {
			if err == nil && !mayCreate {
				err = cannotCreate
			}
			return meta.Collection{}, firstErr(err, denied("cannot create collection %s/%s", e.Name, name))
		}
		return meta.Collection{}, apperr.New(apperr.Conflict, "collection %s/%s already exists", e.Name, name)
	} else if !apperr.Is(err, apperr.NotFound) {
		return meta.Collection{}, err
	}
	if !mayCreate {
		return meta.Collection{}, cannotCreate
	}
	c := meta.Collection{EntityID: e.ID, Name: name, Description: description, OwnerID: p.UserID, Private: s.access.Policy.DefaultPrivate}
	if private != nil {
		c.Private = *private
	}
	return c, st.CreateCollection(ctx, &c)
}

// firstErr returns err when set, else alt.
func firstErr(err, alt error) error {
	if err != nil {
		return err
	}
	return alt
}

// UpdateCollection changes privacy or description: owners and admins.
func (s *Service) UpdateCollection(ctx context.Context, p auth.Principal, id string, u CollectionUpdate) (CollectionInfo, error) {
	var info CollectionInfo
	err := s.meta.InTx(ctx, func(tx meta.Store) error {
		ref, err := s.collectionRef(ctx, tx, id)
		if err != nil {
			return err
		}
		// An invisible collection is NotFound under the id asked for, as
		// a missing one: its name must not show in the message.
		if err := s.readable(ctx, tx, p, ref.Collection, id); err != nil {
			return err
		}
		if err := s.writable(ctx, tx, p, ref); err != nil {
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

// collectionRef loads a collection by id with its entity (no container).
func (s *Service) collectionRef(ctx context.Context, st meta.Store, id string) (Ref, error) {
	c, err := st.GetCollection(ctx, id)
	if apperr.Is(err, apperr.NotFound) {
		return Ref{}, notFound("collection", id)
	}
	if err != nil {
		return Ref{}, err
	}
	e, err := st.GetEntity(ctx, c.EntityID)
	return Ref{Entity: e, Collection: c}, err
}

// CurrentUser answers GET /v1/rbac/users/current.
func (s *Service) CurrentUser(ctx context.Context, p auth.Principal) (meta.User, error) {
	if err := requireUser(p); err != nil {
		return meta.User{}, err
	}
	return s.meta.GetUser(ctx, p.UserID)
}
