package sqlmeta

import (
	"context"

	"github.com/silo-hpc/silo/internal/meta"
)

const entityCols = `id, name, description, owner_id, default_private, created_at`

func scanEntity(r scanner) (meta.Entity, error) {
	var e meta.Entity
	var created int64
	err := r.Scan(&e.ID, &e.Name, &e.Description, &e.OwnerID, &e.DefaultPrivate, &created)
	e.CreatedAt = fromDB(created)
	return e, err
}

func (s *Store) CreateEntity(ctx context.Context, e *meta.Entity) error {
	if e.ID == "" {
		e.ID = newID()
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = now()
	}
	_, err := s.exec(ctx, "entity "+e.Name, `INSERT INTO entities (`+entityCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		e.ID, e.Name, e.Description, e.OwnerID, e.DefaultPrivate, toDB(e.CreatedAt))
	return err
}

func (s *Store) GetEntity(ctx context.Context, id string) (meta.Entity, error) {
	e, err := scanEntity(s.queryRow(ctx, `SELECT `+entityCols+` FROM entities WHERE id = ?`, id))
	return e, mapErr(err, "entity")
}

func (s *Store) GetEntityByName(ctx context.Context, name string) (meta.Entity, error) {
	e, err := scanEntity(s.queryRow(ctx, `SELECT `+entityCols+` FROM entities WHERE name = ?`, name))
	return e, mapErr(err, "entity "+name)
}

const collectionCols = `id, entity_id, name, description, owner_id, private, created_at, updated_at`

func scanCollection(r scanner) (meta.Collection, error) {
	var c meta.Collection
	var created, updated int64
	err := r.Scan(&c.ID, &c.EntityID, &c.Name, &c.Description, &c.OwnerID, &c.Private, &created, &updated)
	c.CreatedAt, c.UpdatedAt = fromDB(created), fromDB(updated)
	return c, err
}

func (s *Store) CreateCollection(ctx context.Context, c *meta.Collection) error {
	if c.ID == "" {
		c.ID = newID()
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now()
	}
	c.UpdatedAt = c.CreatedAt
	_, err := s.exec(ctx, "collection "+c.Name, `INSERT INTO collections (`+collectionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.EntityID, c.Name, c.Description, c.OwnerID, c.Private, toDB(c.CreatedAt), toDB(c.UpdatedAt))
	return err
}

func (s *Store) GetCollection(ctx context.Context, id string) (meta.Collection, error) {
	c, err := scanCollection(s.queryRow(ctx, `SELECT `+collectionCols+` FROM collections WHERE id = ?`, id))
	return c, mapErr(err, "collection")
}

func (s *Store) GetCollectionByName(ctx context.Context, entityID, name string) (meta.Collection, error) {
	c, err := scanCollection(s.queryRow(ctx, `SELECT `+collectionCols+` FROM collections WHERE entity_id = ? AND name = ?`, entityID, name))
	return c, mapErr(err, "collection "+name)
}

func (s *Store) ListCollections(ctx context.Context, entityID string) ([]meta.Collection, error) {
	return queryAll(ctx, s, "collections", scanCollection, `SELECT `+collectionCols+` FROM collections WHERE entity_id = ? ORDER BY name`, entityID)
}

func (s *Store) UpdateCollection(ctx context.Context, c *meta.Collection) error {
	c.UpdatedAt = now()
	return s.execOne(ctx, "collection "+c.Name, `UPDATE collections SET name = ?, description = ?, owner_id = ?, private = ?, updated_at = ? WHERE id = ?`,
		c.Name, c.Description, c.OwnerID, c.Private, toDB(c.UpdatedAt), c.ID)
}

func (s *Store) DeleteCollection(ctx context.Context, id string) error {
	return s.execOne(ctx, "collection", `DELETE FROM collections WHERE id = ?`, id)
}

const containerCols = `id, collection_id, name, description, frozen, created_at, updated_at`

func scanContainer(r scanner) (meta.Container, error) {
	var c meta.Container
	var created, updated int64
	err := r.Scan(&c.ID, &c.CollectionID, &c.Name, &c.Description, &c.Frozen, &created, &updated)
	c.CreatedAt, c.UpdatedAt = fromDB(created), fromDB(updated)
	return c, err
}

func (s *Store) CreateContainer(ctx context.Context, c *meta.Container) error {
	if c.ID == "" {
		c.ID = newID()
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now()
	}
	c.UpdatedAt = c.CreatedAt
	_, err := s.exec(ctx, "container "+c.Name, `INSERT INTO containers (`+containerCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.CollectionID, c.Name, c.Description, c.Frozen, toDB(c.CreatedAt), toDB(c.UpdatedAt))
	return err
}

func (s *Store) GetContainer(ctx context.Context, id string) (meta.Container, error) {
	c, err := scanContainer(s.queryRow(ctx, `SELECT `+containerCols+` FROM containers WHERE id = ?`, id))
	return c, mapErr(err, "container")
}

func (s *Store) GetContainerByName(ctx context.Context, collectionID, name string) (meta.Container, error) {
	c, err := scanContainer(s.queryRow(ctx, `SELECT `+containerCols+` FROM containers WHERE collection_id = ? AND name = ?`, collectionID, name))
	return c, mapErr(err, "container "+name)
}

func (s *Store) ListContainers(ctx context.Context, collectionID string) ([]meta.Container, error) {
	return queryAll(ctx, s, "containers", scanContainer, `SELECT `+containerCols+` FROM containers WHERE collection_id = ? ORDER BY name`, collectionID)
}

func (s *Store) UpdateContainer(ctx context.Context, c *meta.Container) error {
	c.UpdatedAt = now()
	return s.execOne(ctx, "container "+c.Name, `UPDATE containers SET name = ?, description = ?, frozen = ?, updated_at = ? WHERE id = ?`,
		c.Name, c.Description, c.Frozen, toDB(c.UpdatedAt), c.ID)
}

func (s *Store) DeleteContainer(ctx context.Context, id string) error {
	return s.execOne(ctx, "container", `DELETE FROM containers WHERE id = ?`, id)
}
