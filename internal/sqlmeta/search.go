package sqlmeta

import (
	"context"
	"errors"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

// Library search (meta.LibrarySearch), newest first. Each searched table
// has a search index (0004_search_order.*.sql) that numbers its rows in
// the order they were created (n) and holds what a search matches: the
// text, and who may read the row (for images also architecture and
// signature). The database matches the text, leaves out what the viewer
// may not read, and returns the page, newest first, so a caller gets every
// visible hit however many invisible ones match. Results are in a total
// order (n descending), so pages neither repeat nor skip rows.
//
// A search costs in proportion to the rows it returns, not to those that
// match:
//
//   - SQLite: one FTS5 query per kind (search_sqlite.go). The viewer and the image filters
//     are words of the index's keys column that the MATCH expression asks
//     for, so the index skips rows the viewer may not read; FTS5 yields the
//     remaining matches in rowid (n) order, and ORDER BY rowid DESC LIMIT
//     stops after the page.
//   - PostgreSQL: pg_trgm's GIN indexes find matches in no useful order,
//     and reading their candidates costs a scattered read each; a walk of
//     the n index backwards reads neighbouring rows, filtering as it goes,
//     and stops after the page. A search reads a sample of the rows first
//     and chooses between them from what it finds (pgSearch, in
//     search_pg.go).
//
// A label filter (images) is searched from the labels when few images
// carry it, and is one more condition otherwise (search_labels.go).
//
// Either way a search reads at most searchTimeout (see docs/library-api.md,
// Search, for what the caller sees): on PostgreSQL a dense value whose
// visible matches are all old walks past the newer rows first.

// searchTimeout bounds each query of a search.
const searchTimeout = 2 * time.Second

// searchKind is one kind of search result.
type searchKind struct {
	what  string // names the search in errors
	table string // the searched table: SQLite indexes it in <table>_fts, PostgreSQL in search_<table>
	// text are the index's columns that hold text to match.
	text []string
	// private: the rows are in collections, which the viewer may not be
	// allowed to read.
	private bool
	// images: the arch and signed filters apply.
	images bool
	// rows reads the rows of the page, whose n and id are in "top":
	// "<columns> FROM top CROSS JOIN … ORDER BY top.n DESC".
	rows string
}

// fts is the kind's SQLite search index (0004_search_order).
func (k searchKind) fts() string { return k.table + "_fts" }

var (
	entitySearch = searchKind{what: "search entities", table: "entities", text: []string{"name", "description"},
		rows: qualify("e", entityCols) + ` FROM top CROSS JOIN entities e WHERE e.id = top.id ORDER BY top.n DESC`}
	collectionSearch = searchKind{what: "search collections", table: "collections", text: []string{"name", "description"}, private: true,
		rows: qualify("c", collectionCols) + `, ` + qualify("e", entityCols) +
			` FROM top CROSS JOIN collections c CROSS JOIN entities e WHERE c.id = top.id AND e.id = c.entity_id ORDER BY top.n DESC`}
	containerSearch = searchKind{what: "search containers", table: "containers", text: []string{"name", "description"}, private: true,
		rows: containerHitCols + ` FROM top CROSS JOIN containers k CROSS JOIN collections c CROSS JOIN entities e
			WHERE k.id = top.id AND c.id = k.collection_id AND e.id = c.entity_id ORDER BY top.n DESC`}
	imageSearch = searchKind{what: "search images", table: "images", text: []string{"path", "container_description", "description"},
		private: true, images: true,
		rows: containerHitCols + `, ` + qualify("i", imageCols) + ` FROM top CROSS JOIN images i CROSS JOIN containers k
			CROSS JOIN collections c CROSS JOIN entities e
			WHERE i.id = top.id AND k.id = i.container_id AND c.id = k.collection_id AND e.id = c.entity_id ORDER BY top.n DESC`}
)

// The outer query of containers and images reads the page's containers,
// collections and entities.
var containerHitCols = qualify("k", containerCols) + `, ` + qualify("c", collectionCols) + `, ` + qualify("e", entityCols)

func (s *Store) SearchEntities(ctx context.Context, q meta.SearchQuery) ([]meta.Entity, error) {
	return search(ctx, s, entitySearch, q, scanEntity)
}

func (s *Store) SearchCollections(ctx context.Context, q meta.SearchQuery) ([]meta.CollectionHit, error) {
	return search(ctx, s, collectionSearch, q, scanCollectionHit)
}

// scanCollectionHit reads collectionCols then entityCols.
func scanCollectionHit(r scanner) (meta.CollectionHit, error) {
	var h meta.CollectionHit
	var cc, cu, ec int64
	err := r.Scan(&h.Collection.ID, &h.Collection.EntityID, &h.Collection.Name, &h.Collection.Description,
		&h.Collection.OwnerID, &h.Collection.Private, &cc, &cu,
		&h.Entity.ID, &h.Entity.Name, &h.Entity.Description, &h.Entity.OwnerID, &h.Entity.DefaultPrivate, &ec)
	h.Collection.CreatedAt, h.Collection.UpdatedAt, h.Entity.CreatedAt = fromDB(cc), fromDB(cu), fromDB(ec)
	return h, err
}

func (s *Store) SearchContainers(ctx context.Context, q meta.SearchQuery) ([]meta.ContainerHit, error) {
	return search(ctx, s, containerSearch, q, func(r scanner) (meta.ContainerHit, error) { return scanContainerHit(r) })
}

func (s *Store) SearchImages(ctx context.Context, q meta.SearchQuery) ([]meta.ImageHit, error) {
	hits, err := search(ctx, s, imageSearch, q, func(r scanner) (meta.ImageHit, error) {
		var i meta.Image
		var ic, iu int64
		h, err := scanContainerHit(r, &i.ID, &i.ContainerID, &i.Digest, &i.Size, &i.Arch, &i.Description, &i.Uploaded,
			&i.Metadata, &i.ManifestDigest, &i.CreatedBy, &ic, &iu)
		i.CreatedAt, i.UpdatedAt = fromDB(ic), fromDB(iu)
		return meta.ImageHit{Image: i, Container: h.Container, Collection: h.Collection, Entity: h.Entity}, err
	})
	if err != nil || len(hits) == 0 {
		return hits, err
	}
	return hits, s.addTags(ctx, hits)
}

// scanContainerHit reads containerCols, collectionCols and entityCols in
// that order, then any extra destinations.
func scanContainerHit(r scanner, extra ...any) (meta.ContainerHit, error) {
	var h meta.ContainerHit
	var kc, ku, cc, cu, ec int64
	dest := []any{&h.Container.ID, &h.Container.CollectionID, &h.Container.Name, &h.Container.Description,
		&h.Container.Frozen, &kc, &ku,
		&h.Collection.ID, &h.Collection.EntityID, &h.Collection.Name, &h.Collection.Description,
		&h.Collection.OwnerID, &h.Collection.Private, &cc, &cu,
		&h.Entity.ID, &h.Entity.Name, &h.Entity.Description, &h.Entity.OwnerID, &h.Entity.DefaultPrivate, &ec}
	err := r.Scan(append(dest, extra...)...)
	h.Container.CreatedAt, h.Container.UpdatedAt = fromDB(kc), fromDB(ku)
	h.Collection.CreatedAt, h.Collection.UpdatedAt, h.Entity.CreatedAt = fromDB(cc), fromDB(cu), fromDB(ec)
	return h, err
}

// search runs a search of kind k within searchTimeout. A label filters
// images only; with one, the text may be empty.
func search[T any](ctx context.Context, s *Store, k searchKind, q meta.SearchQuery, scan func(scanner) (T, error)) ([]T, error) {
	if !k.images {
		q.LabelKey, q.LabelValue = "", ""
	}
	if strings.ContainsRune(q.Text, '\x01') || (q.Text == "" && q.LabelKey == "") {
		return nil, nil // \x01 is the separator of PostgreSQL's docs (pgText)
	}
	s = s.searcher()
	qctx, cancel := context.WithTimeout(ctx, searchTimeout)
	defer cancel()
	out, err := func() ([]T, error) {
		by, err := labelPlanOf(qctx, s, q)
		if err != nil {
			return nil, err
		}
		if s.postgres {
			return pgSearch(qctx, s, k, q, by, scan)
		}
		return sqliteSearch(qctx, s, k, q, by, scan)
	}()
	if err != nil && ctx.Err() == nil && (qctx.Err() != nil || statementTimedOut(err)) {
		return nil, apperr.Wrap(apperr.Unavailable, err, "search took longer than %s: use a longer or more specific value", searchTimeout)
	}
	return out, err
}

// statementTimedOut reports PostgreSQL's statement_timeout.
func statementTimedOut(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "57014"
}

// page returns the LIMIT and OFFSET of q.
func page(q meta.SearchQuery) (limit, offset int64) {
	limit = int64(q.Limit)
	if limit <= 0 {
		limit = math.MaxInt32
	}
	return limit, int64(max(q.Offset, 0))
}

// visible is the condition "the viewer may read the collection aliased
// c" (visibleCols).
func visible(v meta.Viewer) (string, []any) { return visibleCols(v, "c.private", "c.owner_id", "c.id") }

// visibleCols is the condition "the viewer may read the collection whose
// privacy, owner and id are the columns private, owner and id" (a
// collection's own, or those a search table holds of it). It is
// access.Checker.CanReadCollection in SQL and must agree with it (as must
// the keys of the SQLite search indexes): a collection is readable when
// it is public, by admins, by its owner (a signed-in viewer whose id is
// owner) and by members of teams granted it. metatest checks both against
// it. The teams' collections are an uncorrelated IN, which each database
// reads once per statement, however many rows it checks.
func visibleCols(v meta.Viewer, private, owner, id string) (string, []any) {
	switch {
	case v.Admin:
		return "", nil
	case v.UserID == "":
		return "NOT " + private, nil
	}
	return `(NOT ` + private + ` OR ` + owner + ` = ? OR ` + id + ` IN (SELECT ct.collection_id FROM collection_teams ct
		JOIN team_members m ON m.team_id = ct.team_id WHERE m.user_id = ?))`, []any{v.UserID, v.UserID}
}

// byName orders by name columns in byte order on both databases
// (SQLite's BINARY; on PostgreSQL "C" rather than the database's locale,
// which may sort "a-b" after "ab").
func (s *Store) byName(cols ...string) string {
	if s.postgres {
		for i, c := range cols {
			cols[i] = c + ` COLLATE "C"`
		}
	}
	return strings.Join(cols, ", ")
}

// likePattern makes a "contains" LIKE pattern in which LIKE's wildcards
// match literally (ESCAPE '\').
func likePattern(text string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(text) + "%"
}

// sqlText is SQL and its arguments, written in text order.
type sqlText struct {
	strings.Builder
	args []any
}

func (q *sqlText) add(text string, args ...any) {
	q.WriteString(text)
	q.args = append(q.args, args...)
}

// where gathers the conditions of a query and their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	if cond != "" {
		w.conds = append(w.conds, cond)
		w.args = append(w.args, args...)
	}
}

// addAll adds the conditions of o.
func (w *where) addAll(o where) {
	w.conds = append(w.conds, o.conds...)
	w.args = append(w.args, o.args...)
}

// and is the conditions joined by AND ("true" if none), and their
// arguments.
func (w *where) and() (string, []any) {
	if len(w.conds) == 0 {
		return "true", nil
	}
	return strings.Join(w.conds, " AND "), w.args
}

// write writes WHERE and the conditions, if any.
func (w *where) write(b *sqlText) {
	if len(w.conds) > 0 {
		b.add(` WHERE `+strings.Join(w.conds, " AND "), w.args...)
	}
}

// inList returns "(?, ?, …)" for vals, padded to a power-of-two length
// by repeating the last value, so the query texts (each rebound and
// cached once) stay few. vals must not be empty.
func inList(vals []string) (string, []any) {
	n := 1
	for n < len(vals) {
		n *= 2
	}
	args := make([]any, n)
	for i := range args {
		args[i] = vals[min(i, len(vals)-1)]
	}
	return "(?" + strings.Repeat(", ?", n-1) + ")", args
}

// qualify qualifies a column list with a table alias for joins.
func qualify(alias, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, p := range parts {
		parts[i] = alias + "." + p
	}
	return strings.Join(parts, ", ")
}

// addTags fills each hit's tags in one query.
func (s *Store) addTags(ctx context.Context, hits []meta.ImageHit) error {
	ids := make([]string, len(hits))
	at := make(map[string]int, len(hits)) // image id -> hit
	for n, h := range hits {
		ids[n] = h.Image.ID
		at[h.Image.ID] = n
	}
	in, args := inList(ids)
	type tag struct{ image, tag string }
	tags, err := queryAll(ctx, s, "search tags", func(r scanner) (tag, error) {
		var t tag
		return t, r.Scan(&t.image, &t.tag)
	}, `SELECT image_id, tag FROM library_tags WHERE image_id IN `+in+` ORDER BY tag, arch`, args...)
	for _, t := range tags {
		hits[at[t.image]].Tags = append(hits[at[t.image]].Tags, t.tag)
	}
	return err
}
