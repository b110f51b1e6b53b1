package sqlmeta

import (
	"context"
	"database/sql"
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

// pgSearch runs k's search on PostgreSQL, in one read-only snapshot. A
// walk of the n index backwards costs a fraction of a microsecond per row
// and stops after the page, but reads every row when the visible matches
// are few; pg_trgm's GIN indexes find the candidates of a value in no
// useful order, at a cost that grows with how common its trigrams are,
// then read each candidate. So a search first walks the newest pgSample
// rows: enough visible matches there end it; visible matches that are
// most of the candidates there say a walk will end soon, and it walks on
// as far as their density predicts. What is left goes to the GIN indexes:
// if they find fewer than pgDense visible matches (or the rest of the
// page, if more), those are the answer, sorted; otherwise the visible
// matches are many but far down, and the walk goes on until the page is
// full (bounded by searchTimeout). The page's rows are then read by id.
func pgSearch[T any](ctx context.Context, s *Store, k searchKind, q meta.SearchQuery, scan func(scanner) (T, error)) ([]T, error) {
	limit, offset := page(q)
	need := offset + limit
	table := "search_" + k.table
	// The walks match the text in a way the trigram indexes do not
	// serve, so the planner can only walk the n index; the probe compares
	// n+0, which the n index does not serve, so it can only use the
	// trigram indexes (sequential scans are off).
	walkCond, walkArgs := pgConditions(k, q, false)
	probeCond, probeArgs := pgConditions(k, q, true)
	textCond, textArgs := pgText(q, false)
	vis, visArgs := pgFilters(k, q)
	if vis == "" {
		vis = "true"
	}
	var hits []pgHit
	scanHit := func(r scanner) (pgHit, error) {
		var h pgHit
		return h, r.Scan(&h.n, &h.id)
	}
	err := searchTx(ctx, s, k.what, func(t *Store) error {
		// The sample: the text's matches among the newest pgSample rows
		// and in pgWindows windows of pgSample/pgWindows rows spread evenly
		// over the older ones, and which are visible (and pass the
		// filters).
		type sampled struct {
			top, n, window sql.NullInt64
			id             sql.NullString
			visible        sql.NullBool
		}
		var b sqlText
		b.add(`WITH t AS (SELECT max(n) AS top FROM ` + table + `)
			SELECT t.top, w.n, w.id, w.visible, w.win FROM t LEFT JOIN LATERAL (`)
		for i := range pgWindows + 1 {
			if i > 0 {
				b.add(` UNION ALL `)
			}
			b.add(`SELECT s.n, s.id, `+vis+` AS visible, ?::bigint AS win FROM `+table+` s WHERE `, append(append([]any{}, visArgs...), i)...)
			if i == 0 {
				b.add(`s.n > t.top - ?`, pgSample)
			} else {
				// (t.top - pgSample)·i/(pgWindows+1) and the rows after it.
				b.add(`s.n > (t.top - ?) * ? / ? AND s.n <= least((t.top - ?) * ? / ? + ?, t.top - ?)`,
					pgSample, i, pgWindows+1, pgSample, i, pgWindows+1, pgSample/pgWindows, pgSample)
			}
			b.add(` AND `+textCond, textArgs...)
		}
		b.add(` ORDER BY win, n DESC) w ON true`)
		sample, err := queryAll(ctx, t, k.what, func(r scanner) (sampled, error) {
			var x sampled
			return x, r.Scan(&x.top, &x.n, &x.id, &x.visible, &x.window)
		}, b.String(), b.args...)
		if err != nil || len(sample) == 0 || !sample[0].top.Valid {
			return err // an empty table
		}
		top := sample[0].top.Int64
		below := top - pgSample // the rows left are n <= below
		var restText, restVisible int64
		for _, x := range sample {
			switch {
			case !x.n.Valid:
			case x.window.Int64 == 0 && x.visible.Bool:
				hits = append(hits, pgHit{x.n.Int64, x.id.String})
			case x.window.Int64 > 0:
				restText++
				if x.visible.Bool {
					restVisible++
				}
			}
		}
		trace("sample")
		if int64(len(hits)) >= need || below <= 0 {
			return nil
		}
		walk := func(above int64) ([]pgHit, error) {
			return queryAll(ctx, t, k.what, scanHit, `SELECT s.n, s.id FROM `+table+` s WHERE s.n <= ? AND s.n > ? AND `+
				walkCond+` ORDER BY s.n DESC LIMIT ?`, append(append([]any{below, above}, walkArgs...), need-int64(len(hits)))...)
		}
		// How many rows the windows hold, and what a walk and the GIN
		// indexes would read for the rest of the page if the windows are
		// like the rest: walk when it reads fewer than pgWalkRatio rows
		// per candidate the indexes would (sequential rows cost a
		// fraction of scattered ones), and as far as four times that.
		var windowRows int64
		for i := range pgWindows {
			lo := below * (i + 1) / (pgWindows + 1)
			windowRows += max(0, min(lo+pgSample/pgWindows, below)-lo)
		}
		if restVisible > 0 && windowRows > 0 {
			walkRows := (need - int64(len(hits))) * windowRows / restVisible
			candidates := restText * below / windowRows
			if walkRows <= pgWalkRatio*candidates {
				rows := min(4*walkRows, below)
				trace("walk")
				more, err := walk(below - rows)
				if err != nil {
					return err
				}
				hits, below = append(hits, more...), below-rows
				if int64(len(hits)) >= need || below <= 0 {
					return nil
				}
			}
		}
		// The GIN indexes: all the visible matches left, if fewer than
		// most.
		most := max(pgDense, need-int64(len(hits))) + 1
		trace("probe")
		var count int64
		probed, err := queryAll(ctx, t, k.what, func(r scanner) (pgHit, error) {
			var h pgHit
			return h, r.Scan(&count, &h.n, &h.id)
		}, `WITH cand AS MATERIALIZED (SELECT s.n, s.id FROM `+table+` s WHERE s.n + 0 <= ? AND `+probeCond+` LIMIT ?)
			SELECT (SELECT count(*) FROM cand), n, id FROM cand ORDER BY n DESC LIMIT ?`,
			append(append([]any{below}, probeArgs...), most, need-int64(len(hits)))...)
		if err != nil || count < most {
			hits = append(hits, probed...)
			return err
		}
		// Many, and far down: walk on until the page is full.
		trace("walk to the end")
		more, err := walk(math.MinInt64)
		hits = append(hits, more...)
		return err
	})
	if err != nil || int64(len(hits)) <= offset {
		return nil, err
	}
	hits = hits[offset:min(int64(len(hits)), need)]
	ns, ids := make([]int64, len(hits)), make([]string, len(hits))
	for i, h := range hits {
		ns[i], ids[i] = h.n, h.id
	}
	// The page's rows (one deleted since is left out).
	return queryAll(ctx, s, k.what, scan, `WITH top AS (SELECT * FROM unnest(?::bigint[], ?::text[]) AS t (n, id)) SELECT `+k.rows,
		ns, ids)
}

// A PostgreSQL search samples the newest pgSample rows and pgWindows
// windows of pgSample/pgWindows older ones; walks when that reads fewer
// than pgWalkRatio rows per candidate the GIN indexes would give; and
// collects pgDense visible matches from the GIN indexes before it decides
// they are many. (Variables for tests, which also set pgTrace to see the
// steps taken.)
var (
	pgSample    int64 = 1000
	pgWindows   int64 = 4
	pgWalkRatio int64 = 10
	pgDense     int64 = 5000
	pgTrace     func(step string)
)

func trace(step string) {
	if pgTrace != nil {
		pgTrace(step)
	}
}

// pgHit is a visible match: its n and id.
type pgHit struct {
	n  int64
	id string
}

// pgConditions are the conditions on k's search table, aliased s, that
// the rows of q meet: the text (served by the trigram indexes if
// indexed), then privacy and filters.
func pgConditions(k searchKind, q meta.SearchQuery, indexed bool) (string, []any) {
	text, args := pgText(q, indexed)
	if f, fargs := pgFilters(k, q); f != "" {
		return text + " AND " + f, append(args, fargs...)
	}
	return text, args
}

// pgText is the condition "s.doc contains q.Text". doc holds the texts
// of the row lowercased by the database's lower(), which is what ILIKE
// compares, so LIKE against the lowercased pattern is ILIKE without
// lowering every row it reads; they are joined by U+0001, which no text
// that search matches holds. Not indexed, it compares in the collation
// "C", which changes nothing for LIKE but that the trigram indexes (in
// the column's collation) do not serve.
func pgText(q meta.SearchQuery, indexed bool) (string, []any) {
	pattern := `lower(?)`
	if !indexed {
		pattern += ` COLLATE "C"`
	}
	return `s.doc LIKE ` + pattern + ` ESCAPE '\'`, []any{likePattern(q.Text)}
}

// pgFilters is the condition that the row s is visible to the viewer and
// passes the image filters ("" if there is none).
func pgFilters(k searchKind, q meta.SearchQuery) (string, []any) {
	var w where
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

// searchTx runs fn in a read-only transaction with one snapshot for all
// its statements (REPEATABLE READ), and tells PostgreSQL's planner what
// holds for a search: the rows it reads are cached, so a random read
// costs about what a sequential one does (random_page_cost, by default
// priced for disks, made it read whole tables rather than look up a few
// thousand rows by index); the query is short, so compiling it (jit) or
// starting parallel workers costs more than it saves (each doubled the
// time of searches at a million containers); a sequential scan is never
// what a search wants (the search tables are the size of the library);
// and statement_timeout is searchTimeout. Inside a transaction of the
// caller's, fn runs in it as it is.
func searchTx(ctx context.Context, s *Store, what string, fn func(t *Store) error) error {
	if s.inTx || s.readOnly {
		return fn(s)
	}
	return s.inTxOnce(ctx, s.rd, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}, func(tx meta.Store) error {
		t := tx.(*Store)
		if _, err := t.exec(ctx, what, `SELECT set_config('random_page_cost', '1.1', true), set_config('jit', 'off', true),
			set_config('max_parallel_workers_per_gather', '0', true), set_config('enable_seqscan', 'off', true),
			set_config('statement_timeout', ?, true)`, searchTimeout.String()); err != nil {
			return err
		}
		return fn(t)
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
