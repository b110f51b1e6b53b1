package sqlmeta

import (
	"context"

	"github.com/silo-hpc/silo/internal/meta"
)

// FindContainers lists the containers q names, by name. Privacy is the
// search's condition (visible), inside the query, so a page is full
// however many containers the viewer may not see. A name given is looked
// up by the unique indexes (entities by name, collections and containers
// by their parent and name).
func (s *Store) FindContainers(ctx context.Context, q meta.ContainerQuery) ([]meta.ContainerHit, error) {
	var w where
	w.add(`c.entity_id = e.id AND k.collection_id = c.id`)
	for _, f := range []struct{ cond, val string }{{`e.name = ?`, q.Entity}, {`c.name = ?`, q.Collection}, {`k.name = ?`, q.Container}} {
		if f.val != "" {
			w.add(f.cond, f.val)
		}
	}
	vis, args := visible(q.Viewer)
	w.add(vis, args...)
	var b sqlText
	b.add(`SELECT ` + containerHitCols + ` FROM entities e, collections c, containers k`)
	w.write(&b)
	limit, offset := page(meta.SearchQuery{Limit: q.Limit, Offset: q.Offset})
	b.add(` ORDER BY `+s.byName("e.name", "c.name", "k.name")+` LIMIT ? OFFSET ?`, limit, offset)
	return queryAll(ctx, s, "containers", func(r scanner) (meta.ContainerHit, error) { return scanContainerHit(r) },
		b.String(), b.args...)
}
