package sqlmeta

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/silo-hpc/silo/internal/meta"
)

// sqliteSearch asks k's FTS5 index for the page's rowids (n) and ids,
// newest first, and reads their rows in the same statement. A search
// from the labels (labelsDrive) walks the label's carriers newest first
// in the label index (whose entries end with the image's n, which is the
// rowid of its index row), reads each one's index row by rowid and checks
// it (textLike, keysHold), and stops after the page; otherwise a label is
// a condition on each row the index yields.
func sqliteSearch[T any](ctx context.Context, s *Store, k searchKind, q meta.SearchQuery, by labelPlan, scan func(scanner) (T, error)) ([]T, error) {
	fts := k.fts()
	var b sqlText
	var w where
	order := "rowid"
	if by == labelsDrive {
		order = "l.n"
		// The rows of the images carrying the label, newest first, by
		// rowid, asked what the index would be (FTS5 would parse and
		// seek a MATCH for each row). The label index named serves the
		// order: with a value, (key, value, n); without, (key, n).
		idx := "labels_key_n"
		if q.LabelValue != "" {
			idx = "labels_key_value"
		}
		b.add(`WITH top AS MATERIALIZED (SELECT f.rowid AS n, f.id FROM labels l INDEXED BY ` + idx + ` CROSS JOIN ` + fts + ` f`)
		cond, args := labelMatch(q)
		w.add(cond+` AND f.rowid = l.n`, args...)
		cond, args = textLike(k, q, "f.")
		w.add(cond, args...)
		cond, args = keysHold(k, q, "f.keys")
		w.add(cond, args...)
	} else {
		b.add(`WITH top AS MATERIALIZED (SELECT rowid AS n, id FROM ` + fts)
		withText := utf8.RuneCountInString(q.Text) >= 3
		if !withText {
			// A trigram index cannot look up fewer than three characters
			// (FTS5 matches nothing): read the index in order and compare.
			cond, args := textLike(k, q, "")
			w.add(cond, args...)
		}
		if expr, args := ftsQuery(k, q, withText); expr != "" {
			w.add(fts+` MATCH `+expr, args...)
		}
		if by == labelsFilter {
			cond, args := labelled(q, fts+".rowid")
			w.add(cond, args...)
		}
	}
	w.write(&b)
	limit, offset := page(q)
	b.add(` ORDER BY `+order+` DESC LIMIT ? OFFSET ?) SELECT `+k.rows, limit, offset)
	return queryAll(ctx, s, k.what, scan, b.String(), b.args...)
}

// textLike is the condition "one of k's text columns (prefixed) contains
// q.Text", compared by LIKE on the lowercased columns ("" without text).
func textLike(k searchKind, q meta.SearchQuery, prefix string) (string, []any) {
	if q.Text == "" {
		return "", nil
	}
	var conds []string
	var args []any
	for _, c := range k.text {
		conds = append(conds, `LOWER(`+prefix+c+`) LIKE ? ESCAPE '\'`)
		args = append(args, strings.ToLower(likePattern(q.Text)))
	}
	return "(" + strings.Join(conds, " OR ") + ")", args
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

// keysHold is the condition "the keys column col holds what ftsQuery
// asks of the keys": the same question asked of one row (the viewer's
// words, a team member's from team_members; an architecture's flag; the
// signed flag), by substring as the index's phrases match.
func keysHold(k searchKind, q meta.SearchQuery, col string) (string, []any) {
	var w where
	has := `instr(` + col + `, ?) > 0`
	if k.private && !q.Viewer.Admin {
		if q.Viewer.UserID == "" {
			w.add(has, flagPublic)
		} else {
			w.add(`(`+has+` OR `+has+` OR EXISTS (SELECT 1 FROM team_members m WHERE m.user_id = ?
				AND instr(`+col+`, ' t:' || m.team_id || ' ') > 0))`, flagPublic, " u:"+q.Viewer.UserID+" ", q.Viewer.UserID)
		}
	}
	if k.images && len(q.Arches) > 0 {
		in, args := inList(append([]string{""}, q.Arches...))
		w.add(`EXISTS (SELECT 1 FROM search_arches a WHERE a.arch IN `+in+` AND instr(`+col+`, `+archFlag+`) > 0)`, args...)
	}
	if k.images && q.Signed {
		w.add(has, flagSigned)
	}
	return strings.Join(w.conds, " AND "), w.args
}
