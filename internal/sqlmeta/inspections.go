package sqlmeta

import (
	"context"

	"github.com/silo-hpc/silo/internal/meta"
)

func (s *Store) PutInspection(ctx context.Context, in *meta.Inspection) error {
	if in.CreatedAt.IsZero() {
		in.CreatedAt = now()
	}
	_, err := s.exec(ctx, "inspection", `INSERT INTO sif_inspections (digest, version, inspection, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (digest) DO UPDATE SET version = excluded.version, inspection = excluded.inspection, created_at = excluded.created_at`,
		in.Digest, in.Version, in.JSON, toDB(in.CreatedAt))
	return err
}

func (s *Store) GetInspection(ctx context.Context, digest string) (meta.Inspection, error) {
	var in meta.Inspection
	var created int64
	err := s.queryRow(ctx, `SELECT digest, version, inspection, created_at FROM sif_inspections WHERE digest = ?`, digest).
		Scan(&in.Digest, &in.Version, &in.JSON, &created)
	in.CreatedAt = fromDB(created)
	return in, mapErr(err, "inspection")
}

func (s *Store) ListUninspected(ctx context.Context, version int, after string, limit int) ([]string, error) {
	return queryAll(ctx, s, "uninspected images", func(r scanner) (string, error) {
		var d string
		return d, r.Scan(&d)
	}, `SELECT DISTINCT i.digest FROM images i LEFT JOIN sif_inspections si ON si.digest = i.digest
		WHERE i.uploaded = ? AND i.digest > ? AND (si.digest IS NULL OR si.version < ?) ORDER BY i.digest LIMIT ?`,
		true, after, version, limitOf(limit))
}

// ListLabels reads labels with the containers carrying them. Privacy is
// the search's condition (visible), so a label of a private collection's
// image is listed only to who may read the collection.
func (s *Store) ListLabels(ctx context.Context, q meta.LabelQuery) ([]meta.LabelRow, error) {
	var inner where
	inner.add(`i.id = l.image_id AND i.uploaded = ?`, true)
	// Folded comparisons are those of the labels_fold index
	// (0012_label_fold).
	eq := func(col, v string) {
		if q.Fold {
			inner.add(`lower(`+col+`) = lower(?)`, v)
		} else {
			inner.add(col+` = ?`, v)
		}
	}
	if q.Key != "" {
		eq("l.key", q.Key)
	}
	if q.Value != "" {
		eq("l.value", q.Value)
	}
	var b sqlText
	b.add(`SELECT ` + containerHitCols + `, x.key, x.value FROM (SELECT DISTINCT l.key, l.value, i.container_id AS k_id
		FROM labels l CROSS JOIN images i`)
	inner.write(&b)
	b.add(`) x CROSS JOIN containers k CROSS JOIN collections c CROSS JOIN entities e`)
	var w where
	w.add(`k.id = x.k_id AND c.id = k.collection_id AND e.id = c.entity_id`)
	vis, args := visible(q.Viewer)
	w.add(vis, args...)
	w.write(&b)
	limit := q.Limit
	if limit <= 0 {
		limit = 1 << 30
	}
	b.add(` ORDER BY `+s.byName("x.key", "x.value", "e.name", "c.name", "k.name")+` LIMIT ? OFFSET ?`, limit, max(q.Offset, 0))
	return queryAll(ctx, s, "labels", func(r scanner) (meta.LabelRow, error) {
		var row meta.LabelRow
		var err error
		row.Container, err = scanContainerHit(r, &row.Key, &row.Value)
		return row, err
	}, b.String(), b.args...)
}
