package bridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
)

// Readable returns NotFound (naming the collection as the caller did)
// unless p may read col.
func (b *Bridge) Readable(ctx context.Context, st Store, p auth.Principal, col meta.Collection, name string) error {
	ok, err := b.access.CanReadCollection(ctx, st, p, col)
	if err != nil {
		return err
	}
	if !ok {
		return NotFound("collection", name)
	}
	return nil
}

// Writable checks p may change what is in a collection p can see.
func (b *Bridge) Writable(ctx context.Context, st Store, p auth.Principal, ref Ref) error {
	if err := RequireUser(p); err != nil {
		return err
	}
	if err := b.Readable(ctx, st, p, ref.Collection, ref.Entity.Name+"/"+ref.Collection.Name); err != nil {
		return err
	}
	if !b.access.CanWriteCollection(p, ref.Collection) {
		return ownerOnly{Denied("only the owner of collection %s/%s may change it", ref.Entity.Name, ref.Collection.Name)}
	}
	return nil
}

// EntityByName finds an entity. A user asking for their own, not yet
// existing, entity gets it created when create is set: each user owns the
// entity of their name, and the curl flow of seed 003 starts with
// GET /v1/entities/<me>.
func (b *Bridge) EntityByName(ctx context.Context, st Store, p auth.Principal, name string, create bool) (meta.Entity, error) {
	if err := CheckName("entity", name); err != nil {
		return meta.Entity{}, err
	}
	e, err := st.GetEntityByName(ctx, name)
	if apperr.Is(err, apperr.NotFound) && create && !p.Anonymous() && p.Name == name {
		e, err = b.CreateEntity(ctx, st, p, name, "")
		if apperr.Is(err, apperr.Conflict) {
			// A concurrent first request created it: use that one.
			return st.GetEntityByName(ctx, name)
		}
		return e, err
	}
	if apperr.Is(err, apperr.NotFound) {
		return e, NotFound("entity", name)
	}
	return e, err
}

// CreateEntity applies the entity creation rule. An entity named after a
// user belongs to that user.
func (b *Bridge) CreateEntity(ctx context.Context, st Store, p auth.Principal, name, description string) (meta.Entity, error) {
	e, err := b.newEntity(ctx, st, p, name, description)
	if err != nil {
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

// newEntity checks p may create entity name and returns it, unsaved.
func (b *Bridge) newEntity(ctx context.Context, st Store, p auth.Principal, name, description string) (meta.Entity, error) {
	if err := RequireUser(p); err != nil {
		return meta.Entity{}, err
	}
	if err := CheckName("entity", name); err != nil {
		return meta.Entity{}, err
	}
	if !b.access.CanCreateEntity(p, name) {
		return meta.Entity{}, Denied("you may only create the entity %q named after you", p.Name)
	}
	rules, err := b.Rules(ctx, st)
	if err != nil {
		return meta.Entity{}, err
	}
	e := meta.Entity{Name: name, Description: description, DefaultPrivate: rules.Policy.DefaultPrivate}
	if u, err := st.GetUserByName(ctx, name); err == nil {
		e.OwnerID = u.ID
	} else if !apperr.Is(err, apperr.NotFound) {
		return e, err
	}
	return e, nil
}

// CreateCollection creates a collection in e for p. private nil takes the
// server's default_private (seed 003). A collection p may not see answers
// as a missing one would: p gets the refusal it would get were it missing,
// so the name is not confirmed.
func (b *Bridge) CreateCollection(ctx context.Context, st Store, p auth.Principal, e meta.Entity, name, description string, private *bool) (meta.Collection, error) {
	c, err := b.newCollection(ctx, st, p, e, name, description, private)
	if err != nil {
		return c, err
	}
	return c, st.CreateCollection(ctx, &c)
}

func (b *Bridge) newCollection(ctx context.Context, st Store, p auth.Principal, e meta.Entity, name, description string, private *bool) (meta.Collection, error) {
	if err := CheckName("collection", name); err != nil {
		return meta.Collection{}, err
	}
	rules, err := b.Rules(ctx, st)
	if err != nil {
		return meta.Collection{}, err
	}
	mayCreate := rules.CanCreateCollection(p, e)
	cannotCreate := Denied("you may not create collections in entity %s", e.Name)
	if existing, err := st.GetCollectionByName(ctx, e.ID, name); err == nil {
		if ok, err := b.access.CanReadCollection(ctx, st, p, existing); err != nil || !ok {
			if err != nil {
				return meta.Collection{}, err
			}
			if !mayCreate {
				return meta.Collection{}, cannotCreate
			}
			return meta.Collection{}, Denied("cannot create collection %s/%s", e.Name, name)
		}
		return meta.Collection{}, apperr.New(apperr.Conflict, "collection %s/%s already exists", e.Name, name)
	} else if !apperr.Is(err, apperr.NotFound) {
		return meta.Collection{}, err
	}
	if !mayCreate {
		return meta.Collection{}, cannotCreate
	}
	c := meta.Collection{EntityID: e.ID, Name: name, Description: description, OwnerID: p.UserID, Private: rules.Policy.DefaultPrivate}
	if private != nil {
		c.Private = *private
	}
	return c, nil
}

// CollectionByName resolves entity/collection, NotFound when invisible.
// create lets p's first request create p's own entity.
func (b *Bridge) CollectionByName(ctx context.Context, st Store, p auth.Principal, entity, name string, create bool) (meta.Entity, meta.Collection, error) {
	if err := CheckName("collection", name); err != nil {
		return meta.Entity{}, meta.Collection{}, err
	}
	e, err := b.EntityByName(ctx, st, p, entity, create)
	if err != nil {
		return e, meta.Collection{}, err
	}
	c, err := st.GetCollectionByName(ctx, e.ID, name)
	if apperr.Is(err, apperr.NotFound) {
		return e, c, NotFound("collection", entity+"/"+name)
	}
	if err != nil {
		return e, c, err
	}
	return e, c, b.Readable(ctx, st, p, c, entity+"/"+name)
}

// CollectionByID loads a collection by id with its entity; it checks no
// access (callers do, naming the id they were given).
func (b *Bridge) CollectionByID(ctx context.Context, st Store, id string) (Ref, error) {
	c, err := st.GetCollection(ctx, id)
	if apperr.Is(err, apperr.NotFound) {
		return Ref{}, NotFound("collection", id)
	}
	if err != nil {
		return Ref{}, err
	}
	e, err := st.GetEntity(ctx, c.EntityID)
	return Ref{Entity: e, Collection: c}, err
}

// ContainerByID loads a container by id with its parents, NotFound when
// the caller may not see it.
func (b *Bridge) ContainerByID(ctx context.Context, st Store, p auth.Principal, id string) (Ref, error) {
	k, err := st.GetContainer(ctx, id)
	if apperr.Is(err, apperr.NotFound) {
		return Ref{}, NotFound("container", id)
	}
	if err != nil {
		return Ref{}, err
	}
	ref, err := b.CollectionByID(ctx, st, k.CollectionID)
	if err != nil {
		return Ref{}, err
	}
	ref.Container = k
	if err := b.Readable(ctx, st, p, ref.Collection, id); err != nil {
		return Ref{}, NotFound("container", id)
	}
	return ref, nil
}

// ContainerByPath resolves e/c/n, NotFound when missing or invisible.
func (b *Bridge) ContainerByPath(ctx context.Context, st Store, p auth.Principal, ent, col, con string) (Ref, error) {
	if err := CheckName("container", con); err != nil {
		return Ref{}, err
	}
	e, c, err := b.CollectionByName(ctx, st, p, ent, col, false)
	if err != nil {
		return Ref{}, err
	}
	k, err := st.GetContainerByName(ctx, c.ID, con)
	if apperr.Is(err, apperr.NotFound) {
		return Ref{}, NotFound("container", ent+"/"+col+"/"+con)
	}
	return Ref{Entity: e, Collection: c, Container: k}, err
}

// ContainerForPull resolves "entity/collection/container" for a reader:
// NotFound if it is missing or the caller may not see it.
func (b *Bridge) ContainerForPull(ctx context.Context, st Store, p auth.Principal, path string) (Ref, error) {
	ent, col, con, err := splitPath(path)
	if err != nil {
		return Ref{}, err
	}
	return b.ContainerByPath(ctx, st, p, ent, col, con)
}

// ContainerForPush applies every push rule to a push by p into path:
// users get their own entity; collections are created where
// access.Checker allows it (with the server's default privacy); only the
// collection's owner and admins push (collaborators may not). A private
// collection p cannot see, and a missing entity or collection p may not
// create, get one and the same refusal.
//
// With create unset it only decides (what a request that has not yet
// received a byte, or the token service, asks): nothing is written, and
// the returned Ref has ids only for what exists. With create set it
// writes what the push needs, inside tx.
func (b *Bridge) ContainerForPush(ctx context.Context, tx Store, p auth.Principal, path string, create bool) (Ref, error) {
	if err := RequireUser(p); err != nil {
		return Ref{}, err
	}
	ent, col, con, err := splitPath(path)
	if err != nil {
		return Ref{}, err
	}
	var ref Ref
	ref.Entity, err = tx.GetEntityByName(ctx, ent)
	if apperr.Is(err, apperr.NotFound) {
		ref.Entity, err = b.newEntity(ctx, tx, p, ent, "")
		if err == nil && create {
			err = tx.CreateEntity(ctx, &ref.Entity)
			err = lostRaceIf(err)
		}
	}
	if err != nil {
		return Ref{}, asPushDenied(err, path)
	}
	if ref.Entity.ID != "" {
		ref.Collection, err = tx.GetCollectionByName(ctx, ref.Entity.ID, col)
	} else {
		err = apperr.New(apperr.NotFound, "new entity")
	}
	if apperr.Is(err, apperr.NotFound) {
		ref.Collection, err = b.newCollection(ctx, tx, p, ref.Entity, col, "", nil)
		if err == nil && create {
			err = lostRaceIf(tx.CreateCollection(ctx, &ref.Collection))
		}
	} else if err == nil {
		err = b.Writable(ctx, tx, p, ref)
	}
	if err != nil {
		return Ref{}, asPushDenied(err, path)
	}
	return b.pushContainer(ctx, tx, ref, con, create)
}

// pushContainer finds or (with create) creates the container of a push.
func (b *Bridge) pushContainer(ctx context.Context, tx Store, ref Ref, con string, create bool) (Ref, error) {
	var err error
	if ref.Collection.ID != "" {
		ref.Container, err = tx.GetContainerByName(ctx, ref.Collection.ID, con)
	} else {
		err = apperr.New(apperr.NotFound, "new collection")
	}
	if apperr.Is(err, apperr.NotFound) {
		ref.Container, err = meta.Container{CollectionID: ref.Collection.ID, Name: con}, nil
		if create {
			err = lostRaceIf(tx.CreateContainer(ctx, &ref.Container))
		}
	}
	return ref, err
}

// lostRaceIf turns "already exists" from a create into meta.ErrLostRace:
// a concurrent push created the row after this one looked, and a rerun of
// the transaction finds it.
func lostRaceIf(err error) error {
	if apperr.Is(err, apperr.Conflict) {
		return fmt.Errorf("%w: %w", meta.ErrLostRace, err)
	}
	return err
}

// asPushDenied gives every refusal about who may push (a collection p
// may not see, one p may not create, an entity p may not create) the one
// wording of pushDenied; a visible collection p may not write keeps its
// own reason.
func asPushDenied(err error, path string) error {
	switch {
	case apperr.Is(err, apperr.NotFound):
		return pushDenied(path)
	case apperr.Is(err, apperr.Denied) && !isOwnerOnly(err):
		return pushDenied(path)
	}
	return err
}

// ownerOnly marks the refusal of a visible collection to a non-owner.
type ownerOnly struct{ error }

func (o ownerOnly) Unwrap() error { return o.error }

func isOwnerOnly(err error) bool {
	var o ownerOnly
	return errors.As(err, &o)
}
