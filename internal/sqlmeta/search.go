package sqlmeta

import (
	"context"
	"errors"
	"math"
	"strings"
	"time"
	"unicode/utf8"

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
//   - SQLite: one FTS5 query per kind. The viewer and the image filters
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
	return search(ctx, s, collectionSearch, q, func(r scanner) (meta.CollectionHit, error) {
		var h meta.CollectionHit
		var cc, cu, ec int64
		err := r.Scan(&h.Collection.ID, &h.Collection.EntityID, &h.Collection.Name, &h.Collection.Description,
			&h.Collection.OwnerID, &h.Collection.Private, &cc, &cu,
			&h.Entity.ID, &h.Entity.Name, &h.Entity.Description, &h.Entity.OwnerID, &h.Entity.DefaultPrivate, &ec)
		h.Collection.CreatedAt, h.Collection.UpdatedAt, h.Entity.CreatedAt = fromDB(cc), fromDB(cu), fromDB(ec)
		return h, err
	})
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

// search runs a search of kind k within searchTimeout.
func search[T any](ctx context.Context, s *Store, k searchKind, q meta.SearchQuery, scan func(scanner) (T, error)) ([]T, error) {
	if strings.ContainsRune(q.Text, '\x01') {
		return nil, nil // the separator of PostgreSQL's docs (pgText)
	}
	qctx, cancel := context.WithTimeout(ctx, searchTimeout)
	defer cancel()
	var out []T
	var err error
	if s.postgres {
		out, err = pgSearch(qctx, s, k, q, scan)
	} else {
		out, err = sqliteSearch(qctx, s, k, q, scan)
	}
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

// sqliteSearch asks k's FTS5 index for the page's rowids (n) and ids,
// newest first, and reads their rows in the same statement.
func sqliteSearch[T any](ctx context.Context, s *Store, k searchKind, q meta.SearchQuery, scan func(scanner) (T, error)) ([]T, error) {
	fts := k.table + "_fts"
	var w where
	if utf8.RuneCountInString(q.Text) < 3 {
		// A trigram index cannot look up fewer than three characters
		// (FTS5 matches nothing): read the index in order and compare.
		var conds []string
		var args []any
		for _, c := range k.text {
			conds = append(conds, `LOWER(`+c+`) LIKE ? ESCAPE '\'`)
			args = append(args, strings.ToLower(likePattern(q.Text)))
		}
		w.add("("+strings.Join(conds, " OR ")+")", args...)
		if expr, args := ftsQuery(k, q, false); expr != "" {
			w.add(fts+` MATCH `+expr, args...)
		}
	} else {
		expr, args := ftsQuery(k, q, true)
		w.add(fts+` MATCH `+expr, args...)
	}
	var b sqlText
	b.add(`WITH top AS MATERIALIZED (SELECT rowid AS n, id FROM ` + fts)
	w.write(&b)
	limit, offset := page(q)
	b.add(` ORDER BY rowid DESC LIMIT ? OFFSET ?) SELECT `+k.rows, limit, offset)
	return queryAll(ctx, s, k.what, scan, b.String(), b.args...)
}

// ftsQuery returns an SQL expression whose value is the FTS5 query for q
// (with the text if withText), and its arguments; "" when there is
// nothing to ask the index. The text is a quoted phrase: a phrase of
// trigrams at consecutive positions is exactly a substring, and the
// trigram tokenizer folds case. The rest is asked of the keys column
// (0004_search_order.sqlite.sql): the viewer's words, with a team
// member's from team_members, and the image filters' flags, with the
// architectures' from search_arches, both in the same statement.
func ftsQuery(k searchKind, q meta.SearchQuery, withText bool) (string, []any) {
	var e ftsExpr
	and := func() {
		if e.literal.Len() > 0 || len(e.parts) > 0 {
			e.lit(" AND ")
		}
	}
	if withText {
		e.lit("{" + strings.Join(k.text, " ") + "}: " + phrase(q.Text))
	}
	if k.private && !q.Viewer.Admin {
		and()
		if q.Viewer.UserID == "" {
			e.lit(`{keys}: ` + phrase(flagPublic))
		} else {
			e.lit(`({keys}: ` + phrase(flagPublic) + ` OR {keys}: ` + phrase(" u:"+q.Viewer.UserID+" "))
			e.sql(`coalesce((SELECT group_concat(' OR {keys}: " t:' || replace(m.team_id, '"', '""') || ' "', '')
				FROM team_members m WHERE m.user_id = ?), '')`, q.Viewer.UserID)
			e.lit(")")
		}
	}
	if k.images && len(q.Arches) > 0 {
		and()
		in, args := inList(append([]string{""}, q.Arches...))
		e.lit("(")
		e.sql(`coalesce((SELECT group_concat('{keys}: "' || `+archFlag+` || '"', ' OR ') FROM search_arches a
			WHERE a.arch IN `+in+`), '{keys}: "' || char(57344) || 'no"')`, args...)
		e.lit(")")
	}
	if k.images && q.Signed {
		and()
		e.lit(`{keys}: ` + phrase(flagSigned))
	}
	return e.String()
}

// The flags of the keys column (0004_search_order.sqlite.sql): public
// collections, signed images, and in SQL an architecture's, of its row a
// in search_arches.
const (
	flagPublic = "\ue000pu"
	flagSigned = "\ue000si"
	archFlag   = `char(57344, 57345 + a.n % 6000, 57345 + a.n / 6000)`
)

// ftsExpr builds an SQL string expression from literal text and SQL
// expressions, joined with ||.
type ftsExpr struct {
	literal strings.Builder
	parts   []string
	args    []any
}

func (e *ftsExpr) lit(text string) { e.literal.WriteString(text) }

func (e *ftsExpr) flush() {
	if e.literal.Len() > 0 {
		e.parts = append(e.parts, "?")
		e.args = append(e.args, e.literal.String())
		e.literal.Reset()
	}
}

func (e *ftsExpr) sql(expr string, args ...any) {
	e.flush()
	e.parts = append(e.parts, expr)
	e.args = append(e.args, args...)
}

func (e *ftsExpr) String() (string, []any) {
	e.flush()
	return strings.Join(e.parts, " || "), e.args
}

// phrase quotes text as an FTS5 phrase.
func phrase(text string) string { return `"` + strings.ReplaceAll(text, `"`, `""`) + `"` }

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
