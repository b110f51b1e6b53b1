package sqlmeta

import (
	"context"

	"github.com/silo-hpc/silo/internal/meta"
)

// A label filter (meta.SearchQuery's LabelKey and LabelValue, images
// only; docs/library-api.md, Search) is searched one of two ways:
//
//   - labelsDrive: from the labels. The label indexes end with the
//     image's search number n (0010_label_order), so the carriers come
//     newest first; each one's search row is read by n and filtered (text,
//     privacy, filters), and the search stops after the page. A label
//     alone is always searched so.
//   - labelsFilter: with text, when many images carry the label (counted
//     in labels_key_value, up to labelDense), as one more condition on
//     each row the text search reads, a look-up in labels' primary key;
//     matches still come newest first and the search stops after the page.
//     The text's matches are then likelier to carry the label than the
//     label's carriers are to match the text.
type labelPlan int

const (
	labelsNone labelPlan = iota
	labelsDrive
	labelsFilter
)

// labelDense is how many images carrying a label make it a filter rather
// than where a search starts. (A variable for tests.)
var labelDense int64 = 5000

// labelPlanOf chooses how q's label is searched.
func labelPlanOf(ctx context.Context, s *Store, q meta.SearchQuery) (labelPlan, error) {
	switch {
	case q.LabelKey == "":
		return labelsNone, nil
	case q.Text == "":
		return labelsDrive, nil
	}
	cond, args := labelMatch(q)
	var n int64
	err := s.queryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM labels l WHERE `+cond+` LIMIT ?) x`, append(args, labelDense)...).
		Scan(&n)
	if err != nil {
		return labelsNone, mapErr(err, "search labels")
	}
	if n < labelDense {
		return labelsDrive, nil
	}
	return labelsFilter, nil
}

// labelMatch is the condition "the row l of labels is q's label": its
// key, and its value if q names one (both exact).
func labelMatch(q meta.SearchQuery) (string, []any) {
	if q.LabelValue != "" {
		return `l.key = ? AND l.value = ?`, []any{q.LabelKey, q.LabelValue}
	}
	return `l.key = ?`, []any{q.LabelKey}
}

// labelled is the condition "the image whose search number is the column
// n carries q's label": one look-up in the label index named by labelMatch
// (key, value, n or key, n). By n rather than the image's id, so that on
// SQLite a row the index yields is checked without reading its id from
// the index's content table first (most such rows lack the label: a
// dense+text search read 12% fewer pages).
func labelled(q meta.SearchQuery, n string) (string, []any) {
	cond, args := labelMatch(q)
	return `EXISTS (SELECT 1 FROM labels l WHERE ` + cond + ` AND l.n = ` + n + `)`, args
}
