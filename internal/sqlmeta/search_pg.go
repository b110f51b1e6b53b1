package sqlmeta

import (
	"context"
	"database/sql"
	"log/slog"
	"math"
	"strings"

	"github.com/silo-hpc/silo/internal/logctx"
	"github.com/silo-hpc/silo/internal/meta"
)

// pgSearch runs k's search on PostgreSQL, in one read-only snapshot. A
// walk of the n index backwards costs a fraction of a microsecond per row
// and stops after the page, but reads every row when the visible matches
// are few; pg_trgm's GIN indexes find the candidates of a value in no
// useful order, at a cost that grows with how common its trigrams are,
// then read each candidate. So a search first reads a sample: the newest
// pgSample rows, and pgWindows windows spread over the older ones. Enough
// visible matches among the newest end it. Visible matches in the windows
// predict how far a walk would go: when that reads fewer than pgWalkRatio
// rows per candidate the GIN indexes would give, it walks (as far as four
// times the prediction), and if the page is still not full while the
// windows predict at least 2·pgDense visible matches left, it walks on to
// the end of the page (the GIN indexes would find too many to sort). What
// is left goes to the GIN indexes: if they find fewer than pgDense
// visible matches (or the rest of the page, if more), those are the
// answer, sorted; otherwise the visible matches are many but far down,
// and the walk goes on until the page is full (bounded by searchTimeout).
// A label is searched from the labels, or is one more filter
// (search_labels.go); with a label alone, the walk starts at the newest
// row. The page's rows are then read by id. The steps taken are logged
// at debug level.
func pgSearch[T any](ctx context.Context, s *Store, k searchKind, q meta.SearchQuery, by labelPlan, scan func(scanner) (T, error)) ([]T, error) {
	limit, offset := page(q)
	p := newPgPlan(k, q, offset+limit, by)
	err := searchTx(ctx, s, k.what, func(t *Store) error { return p.run(ctx, t) })
	if l := logctx.From(ctx); l.Enabled(ctx, slog.LevelDebug) {
		l.DebugContext(ctx, "search path", "search", k.what, "steps", p.steps, "found", len(p.hits), "error", err)
	}
	hits := p.hits
	if err != nil || int64(len(hits)) <= offset {
		return nil, err
	}
	hits = hits[offset:min(int64(len(hits)), p.need)]
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
// they are many. (Variables for tests.)
var (
	pgSample    int64 = 1000
	pgWindows   int64 = 4
	pgWalkRatio int64 = 10
	pgDense     int64 = 5000
)

// pgHit is a visible match: its n and id.
type pgHit struct {
	n  int64
	id string
}

// pgPlan is one PostgreSQL search under way.
type pgPlan struct {
	k     searchKind
	q     meta.SearchQuery
	by    labelPlan
	table string
	need  int64    // offset + limit: the visible matches wanted
	below int64    // the rows not yet read are those with n <= below
	hits  []pgHit  // the visible matches found, newest first
	steps []string // the steps taken, for the debug log
	// The conditions on a row s of the search table: the text in a way
	// the trigram indexes do not serve ("" without text), so that the
	// planner can only walk the n index; the filters (privacy, image
	// filters, a label filter; "true" if none); the walks' (both) and
	// the probe's (the text served by the trigram indexes, and the
	// filters). With their arguments.
	textCond, visCond, walkCond, probeCond string
	textArgs, visArgs, walkArgs, probeArgs []any
}

func newPgPlan(k searchKind, q meta.SearchQuery, need int64, by labelPlan) *pgPlan {
	p := &pgPlan{k: k, q: q, by: by, table: "search_" + k.table, need: need}
	var filters where
	cond, args := pgFilters(k, q)
	filters.add(cond, args...)
	if by == labelsFilter {
		cond, args := labelled(q, "s.n")
		filters.add(cond, args...)
	}
	p.visCond, p.visArgs = filters.and()
	var walk, probe where
	if q.Text != "" {
		p.textCond, p.textArgs = pgText(q, false)
		walk.add(p.textCond, p.textArgs...)
		cond, args := pgText(q, true)
		probe.add(cond, args...)
	}
	walk.addAll(filters)
	probe.addAll(filters)
	p.walkCond, p.walkArgs = walk.and()
	p.probeCond, p.probeArgs = probe.and()
	return p
}

// done: the page is full, or no row is left to read.
func (p *pgPlan) done() bool { return int64(len(p.hits)) >= p.need || p.below <= 0 }

// left is how many visible matches the page still wants.
func (p *pgPlan) left() int64 { return p.need - int64(len(p.hits)) }

func (p *pgPlan) run(ctx context.Context, t *Store) error {
	switch {
	case p.by == labelsDrive:
		p.steps = append(p.steps, "labels")
		return p.fromLabels(ctx, t)
	case p.textCond == "":
		// A label filter alone: walk from the newest row.
		p.steps = append(p.steps, "walk")
		p.below = math.MaxInt64
		return p.walk(ctx, t, math.MinInt64)
	}
	p.steps = append(p.steps, "sample")
	restText, restVisible, err := p.sample(ctx, t)
	if err != nil || p.done() {
		return err
	}
	// What a walk and the GIN indexes would read for the rest of the page
	// if the windows are like the rest: walk when it reads fewer than
	// pgWalkRatio rows per candidate the indexes would (sequential rows
	// cost a fraction of scattered ones), and as far as four times that.
	if windowRows := pgWindowRows(p.below); restVisible > 0 && windowRows > 0 {
		walkRows := p.left() * windowRows / restVisible
		candidates := restText * p.below / windowRows
		if walkRows <= pgWalkRatio*candidates {
			p.steps = append(p.steps, "walk")
			if err := p.walk(ctx, t, p.below-min(4*walkRows, p.below)); err != nil || p.done() {
				return err
			}
			// Not there yet: the visible matches are fewer near the top
			// than in the windows. If the windows say many are left, the
			// GIN indexes would only say so too.
			if restVisible*p.below/windowRows >= 2*pgDense {
				p.steps = append(p.steps, "walk on")
				return p.walk(ctx, t, math.MinInt64)
			}
		}
	}
	p.steps = append(p.steps, "probe")
	if many, err := p.probe(ctx, t); err != nil || !many {
		return err
	}
	// Many, and far down: walk on until the page is full.
	p.steps = append(p.steps, "walk to the end")
	return p.walk(ctx, t, math.MinInt64)
}

// sample reads the text's matches among the newest pgSample rows and in
// pgWindows windows of pgSample/pgWindows rows spread evenly over the
// older ones, and which of them are visible (and pass the filters). The
// visible ones among the newest are hits; it returns how many matches and
// visible matches the windows hold, and sets below under the newest.
func (p *pgPlan) sample(ctx context.Context, t *Store) (restText, restVisible int64, err error) {
	type sampled struct {
		top, n, window sql.NullInt64
		id             sql.NullString
		visible        sql.NullBool
	}
	var b sqlText
	b.add(`WITH t AS (SELECT max(n) AS top FROM ` + p.table + `)
		SELECT t.top, w.n, w.id, w.visible, w.win FROM t LEFT JOIN LATERAL (`)
	for i := range pgWindows + 1 {
		if i > 0 {
			b.add(` UNION ALL `)
		}
		b.add(`SELECT s.n, s.id, `+p.visCond+` AS visible, ?::bigint AS win FROM `+p.table+` s WHERE `,
			append(append([]any{}, p.visArgs...), i)...)
		if i == 0 {
			b.add(`s.n > t.top - ?`, pgSample)
		} else {
			// (t.top - pgSample)·i/(pgWindows+1) and the rows after it.
			b.add(`s.n > (t.top - ?) * ? / ? AND s.n <= least((t.top - ?) * ? / ? + ?, t.top - ?)`,
				pgSample, i, pgWindows+1, pgSample, i, pgWindows+1, pgSample/pgWindows, pgSample)
		}
		b.add(` AND `+p.textCond, p.textArgs...)
	}
	b.add(` ORDER BY win, n DESC) w ON true`)
	rows, err := queryAll(ctx, t, p.k.what, func(r scanner) (sampled, error) {
		var x sampled
		return x, r.Scan(&x.top, &x.n, &x.id, &x.visible, &x.window)
	}, b.String(), b.args...)
	if err != nil || len(rows) == 0 || !rows[0].top.Valid {
		return 0, 0, err // an empty table: below stays 0
	}
	p.below = rows[0].top.Int64 - pgSample
	for _, x := range rows {
		switch {
		case !x.n.Valid:
		case x.window.Int64 == 0 && x.visible.Bool:
			p.hits = append(p.hits, pgHit{x.n.Int64, x.id.String})
		case x.window.Int64 > 0:
			restText++
			if x.visible.Bool {
				restVisible++
			}
		}
	}
	return restText, restVisible, nil
}

// pgWindowRows is how many rows the sample's windows hold when the rows
// under them are n <= below.
func pgWindowRows(below int64) int64 {
	var rows int64
	for i := range pgWindows {
		lo := below * (i + 1) / (pgWindows + 1)
		rows += max(0, min(lo+pgSample/pgWindows, below)-lo)
	}
	return rows
}

// walk reads the n index backwards from below down to above (excluded),
// filtering as it goes, until the page is full.
func (p *pgPlan) walk(ctx context.Context, t *Store, above int64) error {
	more, err := queryAll(ctx, t, p.k.what, scanPgHit, `SELECT s.n, s.id FROM `+p.table+` s WHERE s.n <= ? AND s.n > ? AND `+
		p.walkCond+` ORDER BY s.n DESC LIMIT ?`, append(append([]any{p.below, above}, p.walkArgs...), p.left())...)
	p.hits, p.below = append(p.hits, more...), above
	return err
}

// probe asks the GIN indexes for the visible matches with n <= below.
// When they are fewer than most (pgDense, or the rest of the page if
// more), it adds them, newest first, and reads no more; otherwise it
// reports many. n+0 keeps the planner off the n index.
func (p *pgPlan) probe(ctx context.Context, t *Store) (many bool, err error) {
	most := max(pgDense, p.left()) + 1
	var count int64
	probed, err := queryAll(ctx, t, p.k.what, func(r scanner) (pgHit, error) {
		var h pgHit
		return h, r.Scan(&count, &h.n, &h.id)
	}, `WITH cand AS MATERIALIZED (SELECT s.n, s.id FROM `+p.table+` s WHERE s.n + 0 <= ? AND `+p.probeCond+` LIMIT ?)
		SELECT (SELECT count(*) FROM cand), n, id FROM cand ORDER BY n DESC LIMIT ?`,
		append(append([]any{p.below}, p.probeArgs...), most, p.left())...)
	if err != nil || count >= most {
		return err == nil, err
	}
	p.hits, p.below = append(p.hits, probed...), 0
	return false, nil
}

// fromLabels reads the visible matches among the images carrying the
// label (labelsDrive), newest first, up to the page's end: the label
// indexes end with each carrier's n (0010_label_order), so a backward
// scan of one reads the carriers newest first and stops after the page.
func (p *pgPlan) fromLabels(ctx context.Context, t *Store) error {
	var w where
	cond, args := labelMatch(p.q)
	w.add(cond, args...)
	w.add(`s.n = l.n`)
	w.add(p.walkCond, p.walkArgs...)
	var b sqlText
	b.add(`SELECT s.n, s.id FROM labels l CROSS JOIN ` + p.table + ` s`)
	w.write(&b)
	b.add(` ORDER BY l.n DESC LIMIT ?`, p.left())
	more, err := queryAll(ctx, t, p.k.what, scanPgHit, b.String(), b.args...)
	p.hits, p.below = append(p.hits, more...), 0
	return err
}

func scanPgHit(r scanner) (pgHit, error) {
	var h pgHit
	return h, r.Scan(&h.n, &h.id)
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
		vis, args := visibleCols(q.Viewer, "s.private", "s.owner_id", "s.collection_id")
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

// searchTx runs fn in a read-only transaction with one snapshot for all
// its statements (REPEATABLE READ), and tells PostgreSQL's planner what
// holds for a search: the rows it reads are cached, so a random read
// costs about what a sequential one does (random_page_cost, by default
// priced for disks, made it read whole tables rather than look up a few
// thousand rows by index); the query is short, so compiling it (jit) or
// starting parallel workers costs more than it saves (each doubled the
// time of searches at a million containers); a sequential scan is never
// what a search wants (the search tables are the size of the library);
// statement_timeout is searchTimeout; and each statement is planned once
// per connection (plan_cache_mode force_generic_plan) rather than for each
// execution's values: pgSearch's steps already decide what a search reads
// and keep the planner to it (n+0, COLLATE "C", no sequential scans), and
// planning each statement anew cost 0.4–0.7 ms of the PostgreSQL server's
// time per statement (at 100k containers, p50s 5–20 % lower; at a million,
// no plan changed for the worse). Inside a transaction of the caller's, fn
// runs in it as it is.
func searchTx(ctx context.Context, s *Store, what string, fn func(t *Store) error) error {
	if s.inTx || s.readOnly {
		return fn(s)
	}
	return s.inTxOnce(ctx, s.rd, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}, func(tx meta.Store) error {
		t := tx.(*Store)
		if _, err := t.exec(ctx, what, `SELECT set_config('random_page_cost', '1.1', true), set_config('jit', 'off', true),
			set_config('max_parallel_workers_per_gather', '0', true), set_config('enable_seqscan', 'off', true),
			set_config('plan_cache_mode', 'force_generic_plan', true),
			set_config('statement_timeout', ?, true)`, searchTimeout.String()); err != nil {
			return err
		}
		return fn(t)
	})
}
