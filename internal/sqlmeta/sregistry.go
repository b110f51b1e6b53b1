package sqlmeta

import (
	"context"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

// The Singularity Registry Server API's queries (meta.SRegistry). Privacy
// is the search's condition (visible), inside the query.

func (s *Store) FindCollections(ctx context.Context, q meta.CollectionQuery) ([]meta.CollectionHit, error) {
	var w where
	w.add(`e.id = c.entity_id`)
	if q.EntityID != "" {
		w.add(`c.entity_id = ?`, q.EntityID)
	}
	if q.Name != "" {
		w.add(`c.name = ?`, q.Name)
	}
	vis, args := visible(q.Viewer)
	w.add(vis, args...)
	var b sqlText
	b.add(`SELECT ` + qualify("c", collectionCols) + `, ` + qualify("e", entityCols) + ` FROM collections c CROSS JOIN entities e`)
	w.write(&b)
	b.add(` ORDER BY ` + s.byName("e.name", "c.name"))
	return queryAll(ctx, s, "collections", scanCollectionHit, b.String(), b.args...)
}

func (s *Store) FindTags(ctx context.Context, q meta.TagQuery) ([]meta.TagRow, error) {
	var w where
	w.add(`e.id = c.entity_id AND k.collection_id = c.id AND t.container_id = k.id AND i.id = t.image_id`)
	for _, f := range []struct{ cond, val string }{
		{`c.entity_id = ?`, q.EntityID}, {`c.name = ?`, q.Collection}, {`k.name = ?`, q.Container}, {`t.tag = ?`, q.Tag},
	} {
		if f.val != "" {
			w.add(f.cond, f.val)
		}
	}
	vis, args := visible(q.Viewer)
	w.add(vis, args...)
	var b sqlText
	b.add(`SELECT ` + containerHitCols + `, ` + qualify("t", libraryTagCols) + `, ` + qualify("i", imageCols) +
		` FROM collections c JOIN entities e ON TRUE JOIN containers k ON TRUE JOIN library_tags t ON TRUE JOIN images i ON TRUE`)
	w.write(&b)
	b.add(` ORDER BY ` + s.byName("e.name", "c.name", "k.name", "t.tag", "t.arch"))
	return queryAll(ctx, s, "tags", func(r scanner) (meta.TagRow, error) {
		var row meta.TagRow
		var tu, ic, iu int64
		i := &row.Image
		h, err := scanContainerHit(r, &row.Tag.ContainerID, &row.Tag.Arch, &row.Tag.Tag, &row.Tag.ImageID, &tu,
			&i.ID, &i.ContainerID, &i.Digest, &i.Size, &i.Arch, &i.Description, &i.Uploaded,
			&i.Metadata, &i.ManifestDigest, &i.CreatedBy, &ic, &iu)
		row.ContainerHit = h
		row.Tag.UpdatedAt, i.CreatedAt, i.UpdatedAt = fromDB(tu), fromDB(ic), fromDB(iu)
		return row, err
	}, b.String(), b.args...)
}

func (s *Store) GetDownloadSalt(ctx context.Context, collectionID string) (string, error) {
	var salt string
	err := s.queryRow(ctx, `SELECT salt FROM sregistry_download_salts WHERE collection_id = ?`, collectionID).Scan(&salt)
	if err = mapErr(err, "download salt"); apperr.Is(err, apperr.NotFound) {
		return "", nil
	}
	return salt, err
}

func (s *Store) SetDownloadSalt(ctx context.Context, collectionID, salt string) error {
	// INSERT ... SELECT so a missing collection is NotFound rather than a
	// foreign-key failure each database words differently.
	res, err := s.exec(ctx, "download salt", `INSERT INTO sregistry_download_salts (collection_id, salt, rotated_at)
		SELECT id, CAST(? AS TEXT), CAST(? AS BIGINT) FROM collections WHERE id = ?
		ON CONFLICT (collection_id) DO UPDATE SET salt = excluded.salt, rotated_at = excluded.rotated_at`,
		salt, toDB(now()), collectionID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return apperr.New(apperr.NotFound, "collection %s: not found", collectionID)
	}
	return nil
}
