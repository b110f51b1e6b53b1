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
//   - PostgreSQL: pg_trgm's GIN indexes find matches in no useful order.
//     A search first collects at most pgDense visible matches through them
//     and sorts those: when there are fewer, that is the answer (a sparse
//     value costs its matches). Otherwise matches are dense, and a second
//     query walks the n index backwards, filtering as it goes, and stops
//     after the page.
//
// Either way a search reads at most searchTimeout (see docs/library-api.md,
// Search, for what the caller sees): on PostgreSQL a dense value whose
// visible matches are all old walks past the newer rows first.

// searchTimeout bounds each query of a search.
const searchTimeout = 2 * time.Second

// pgDense is the number of visible matches above which PostgreSQL walks
// the n index instead of sorting the matches: a walk reads about
// limit·rows/matches rows, so past a few thousand matches walking is the
// cheaper of the two (both cost about √(limit·rows) at the crossover).
const pgDense = 5000

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
// trigram tokenizer folds case. The other words are in the keys column
// (0004_search_order.sqlite.sql): the viewer's, which a team member gets
// from team_members in the same statement, and the image filters'.
func ftsQuery(k searchKind, q meta.SearchQuery, withText bool) (string, []any) {
	var and []string
	if withText {
		and = append(and, "{"+strings.Join(k.text, " ")+"}: "+phrase(q.Text))
	}
	var teams bool
	if k.private && !q.Viewer.Admin {
		who := `{keys}: " pub "`
		if q.Viewer.UserID != "" {
			// The team words follow, from the statement's subquery.
			who = `(` + who + ` OR {keys}: ` + phrase(" u:"+q.Viewer.UserID+" ")
			teams = true
		}
		and = append(and, who)
	}
	var filters []string
	if k.images && len(q.Arches) > 0 {
		arches := []string{`{keys}: " a: "`}
		for _, a := range q.Arches {
			arches = append(arches, `{keys}: `+phrase(" a:"+a+" "))
		}
		filters = append(filters, "("+strings.Join(arches, " OR ")+")")
	}
	if k.images && q.Signed {
		filters = append(filters, `{keys}: " signed "`)
	}
	if !teams {
		if len(and)+len(filters) == 0 {
			return "", nil
		}
		return "?", []any{strings.Join(append(and, filters...), " AND ")}
	}
	// and ends with the viewer's open parenthesis; the teams close it.
	rest := ")"
	if len(filters) > 0 {
		rest += " AND " + strings.Join(filters, " AND ")
	}
	return `? || coalesce((SELECT group_concat(' OR {keys}: " t:' || replace(m.team_id, '"', '""') || ' "', '')
		FROM team_members m WHERE m.user_id = ?), '') || ?`,
		[]any{strings.Join(and, " AND "), q.Viewer.UserID, rest}
}

// phrase quotes text as an FTS5 phrase.
func phrase(text string) string { return `"` + strings.ReplaceAll(text, `"`, `""`) + `"` }

// pgSearch runs k's search on PostgreSQL in one read transaction: the
// visible matches, up to pgDense or the end of the page if further, from
// the trigram indexes; if there are more, a walk of the n index.
func pgSearch[T any](ctx context.Context, s *Store, k searchKind, q meta.SearchQuery, scan func(scanner) (T, error)) ([]T, error) {
	cond, args := pgConditions(k, q)
	limit, offset := page(q)
	most := max(pgDense, offset+limit) + 1 // the most matches collected; more are "dense"
	var probe, walk sqlText
	probe.add(`WITH cand AS MATERIALIZED (SELECT s.n, s.id FROM search_`+k.table+` s WHERE `+cond+` LIMIT ?),
		top AS MATERIALIZED (SELECT n, id FROM cand ORDER BY n DESC LIMIT ? OFFSET ?)
		SELECT (SELECT count(*) FROM cand), `+k.rows, append(args, most, limit, offset)...)
	walk.add(`WITH top AS MATERIALIZED (SELECT s.n, s.id FROM search_`+k.table+` s WHERE `+cond+
		` ORDER BY s.n DESC LIMIT ? OFFSET ?) SELECT `+k.rows, append(args, limit, offset)...)

	var out []T
	err := searchTx(ctx, s, k.what, func(t *Store, tuned bool) error {
		// plan sets a planner setting for the rest of the transaction
		// (not in a transaction of the caller's).
		plan := func(name string) error {
			if !tuned {
				return nil
			}
			_, err := t.exec(ctx, k.what, `SELECT set_config(?, 'off', true)`, name)
			return err
		}
		// The matches from the trigram indexes (a sequential scan would
		// read the whole table), and how many there are up to most.
		if err := plan("enable_seqscan"); err != nil {
			return err
		}
		var n int64
		var err error
		out, err = queryAll(ctx, t, k.what, func(r scanner) (T, error) { return scan(countFirst{r, &n}) },
			probe.String(), probe.args...)
		if err != nil || n < most {
			return err // all the matches were collected (an empty page: fewer than offset)
		}
		// Dense: walk the n index, newest first, and stop after the page.
		if err := plan("enable_bitmapscan"); err != nil {
			return err
		}
		out, err = queryAll(ctx, t, k.what, scan, walk.String(), walk.args...)
		return err
	})
	return out, err
}

// countFirst scans the count the probe's rows start with into n.
type countFirst struct {
	r scanner
	n *int64
}

func (c countFirst) Scan(dest ...any) error { return c.r.Scan(append([]any{c.n}, dest...)...) }

// pgConditions are the conditions of k's search table, aliased s, that
// the rows of q meet. The table holds its text lowercased by the
// database's lower(), which is what ILIKE compares, so LIKE against the
// lowercased pattern is ILIKE without lowering every row it reads.
func pgConditions(k searchKind, q meta.SearchQuery) (string, []any) {
	var w where
	var conds []string
	var args []any
	for _, c := range k.text {
		conds = append(conds, `s.`+c+` LIKE lower(?) ESCAPE '\'`)
		args = append(args, likePattern(q.Text))
	}
	w.add("("+strings.Join(conds, " OR ")+")", args...)
	if k.private {
		vis, args := visible(q.Viewer)
		w.add(vis, args...)
	}
	if k.images {
		w.add(`s.uploaded`)
		if len(q.Arches) > 0 {
			in, args := inList(q.Arches)
			w.add(`(s.arch = '' OR s.arch IN `+in+`)`, args...)
		}
		if q.Signed {
			w.add(`s.signed`)
		}
	}
	return strings.Join(w.conds, " AND "), w.args
}

// visible is the condition "the viewer may read the row aliased s of a
// PostgreSQL search table", whose private, owner_id and collection_id are
// its collection's. It is access.Checker.CanReadCollection in SQL and must
// agree with it (as must the keys of the SQLite indexes): a collection is
// readable when it is public, by admins, by its owner (a signed-in viewer
// whose id is owner_id) and by members of teams granted it. metatest
// checks both against it.
func visible(v meta.Viewer) (string, []any) {
	switch {
	case v.Admin:
		return "", nil
	case v.UserID == "":
		return "NOT s.private", nil
	}
	return `(NOT s.private OR s.owner_id = ? OR s.collection_id IN (SELECT ct.collection_id FROM collection_teams ct
		JOIN team_members m ON m.team_id = ct.team_id WHERE m.user_id = ?))`, []any{v.UserID, v.UserID}
}

// searchTx runs fn in a read transaction that tells PostgreSQL's planner
// what holds for a search: the rows it reads are cached, so a random read
// costs about what a sequential one does (random_page_cost, by default
// priced for disks, made it read whole tables rather than look up a few
// thousand rows by index), and the query is short, so compiling it (jit)
// or starting parallel workers costs more than it saves (each doubled the
// time of searches at a million containers). statement_timeout is
// searchTimeout; fn may change settings for the rest of the transaction
// (tuned). Inside a transaction of the caller's, fn runs in it as it is.
func searchTx(ctx context.Context, s *Store, what string, fn func(t *Store, tuned bool) error) error {
	if s.inTx || s.readOnly {
		return fn(s, false)
	}
	return s.ReadTx(ctx, func(tx meta.Store) error {
		t := tx.(*Store)
		if _, err := t.exec(ctx, what, `SELECT set_config('random_page_cost', '1.1', true), set_config('jit', 'off', true),
			set_config('max_parallel_workers_per_gather', '0', true), set_config('statement_timeout', ?, true)`,
			searchTimeout.String()); err != nil {
			return err
		}
		return fn(t, true)
	})
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
