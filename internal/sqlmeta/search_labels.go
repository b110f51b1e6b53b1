package sqlmeta

import (
	"context"

	"github.com/silo-hpc/silo/internal/meta"
)

// A label filter (meta.SearchQuery's LabelKey and LabelValue, images
// only; docs/library-api.md, Search) is searched one of two ways, chosen
// by how many images carry the label (counted in labels_key_value, up to
// labelDense):
//
//   - fewer (labelsDrive): from the labels. The search rows of the images
//     that carry it are read by id, filtered (text, privacy, filters) and
//     sorted newest first: the search costs what those images do, however
//     many rows the text matches.
//   - more (labelsFilter): as one more condition on each row the text
//     search (or, without text, the walk of the newest rows) reads, a
//     look-up in labels' primary key; matches still come newest first and
//     the search stops after the page.
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
	if q.LabelKey == "" {
		return labelsNone, nil
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

// labelled is the condition "the image whose id is the column id carries
// q's label".
func labelled(q meta.SearchQuery, id string) (string, []any) {
	cond, args := labelMatch(q)
	return `EXISTS (SELECT 1 FROM labels l WHERE l.image_id = ` + id + ` AND ` + cond + `)`, args
}
