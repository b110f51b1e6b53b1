package sqlmeta

import (
	"context"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/silo-hpc/silo/internal/meta"
)

// Library search (meta.LibrarySearch). Each kind is one query that the
// indexes of 0003_search.*.sql serve: the database matches the text,
// leaves out what the viewer may not read, orders and pages, so a caller
// gets every visible hit however many invisible ones match.
//
// Every query has the same shape. A materialized common table expression
// "hit" holds the ids and names of the visible rows that match, found
// from the text index (for images, "k_hit" first holds the matching
// containers); "top" orders them by name and takes the page; the outer
// query reads the whole rows of the page alone. The fences keep
// PostgreSQL's planner from the plan it otherwise likes for ORDER BY …
// LIMIT: walk the name indexes in order and filter as it goes, which
// reads the whole library when the visible matches are few (a search
// whose hits are mostly someone else's private containers took seconds
// at a million containers). Joins are CROSS JOIN with their conditions
// in WHERE: SQLite then joins in the order written, from the text index
// out; PostgreSQL plans them like any inner join.
//
// The dialects differ only in matching, signed, byName and searchAll,
// below; the privacy condition and the rest of the SQL are shared.

// match is how a query finds the rows that contain a text: from goes
// right before the table in the FROM clause (on SQLite, the FTS lookup
// that drives the join), cond into WHERE.
type match struct {
	from, cond         string
	fromArgs, condArgs []any
}

// ftsColumns are the columns of each SQLite FTS table (0003_search.sqlite.sql).
var ftsColumns = map[string]string{
	"entities": "name description", "collections": "name description",
	"containers": "name description", "images": "description",
}

// matching finds the rows of table, aliased alias, that have text in one
// of cols, case-insensitively, with LIKE wildcards in text literal.
func (s *Store) matching(table, alias, text string, cols ...string) match {
	var m match
	var conds []string
	switch {
	case s.postgres:
		// pg_trgm's GIN indexes serve ILIKE '%…%' and recheck each
		// candidate, so the answer is LIKE's whatever the text.
		for _, c := range cols {
			conds = append(conds, alias+"."+c+` ILIKE ? ESCAPE '\'`)
			m.condArgs = append(m.condArgs, likePattern(text))
		}
	case utf8.RuneCountInString(text) < 3:
		// A trigram index cannot look up fewer than three characters
		// (FTS5 matches nothing): scan, as before the index.
		for _, c := range cols {
			conds = append(conds, `LOWER(`+alias+"."+c+`) LIKE ? ESCAPE '\'`)
			m.condArgs = append(m.condArgs, strings.ToLower(likePattern(text)))
		}
	default:
		// A quoted FTS5 phrase of trigrams at consecutive positions is
		// exactly a substring; the trigram tokenizer folds case.
		phrase := `"` + strings.ReplaceAll(text, `"`, `""`) + `"`
		if c := strings.Join(cols, " "); c != ftsColumns[table] {
			phrase = "{" + c + "} : " + phrase
		}
		m.from = `(SELECT id FROM ` + table + `_fts WHERE ` + table + `_fts MATCH ?) ` + alias + `_fts CROSS JOIN `
		m.fromArgs = []any{phrase}
		m.cond = alias + `.id = ` + alias + `_fts.id`
		return m
	}
	m.cond = "(" + strings.Join(conds, " OR ") + ")"
	return m
}

// signed is the condition of the signed filter: the image metadata JSON
// in col has "verified": true (its signatures verify against keys Silo
// holds, bridge.Verification), not merely "signed".
func (s *Store) signed(col string) string {
	if s.postgres {
		return `(` + col + `::jsonb ->> 'verified') = 'true'`
	}
	return `json_extract(` + col + `, '$.verified') = 1`
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

// visible is the condition "the viewer may read the collection aliased
// c". It is access.Checker.CanReadCollection in SQL and must agree with
// it: a collection is readable when it is public, by admins, by its owner
// (a signed-in viewer whose id is owner_id) and by members of teams
// granted it. metatest checks the two against each other.
func visible(v meta.Viewer) (string, []any) {
	switch {
	case v.Admin:
		return "", nil
	case v.UserID == "":
		return "NOT c.private", nil
	}
	return `(NOT c.private OR c.owner_id = ? OR EXISTS (SELECT 1 FROM collection_teams ct
		JOIN team_members m ON m.team_id = ct.team_id WHERE ct.collection_id = c.id AND m.user_id = ?))`,
		[]any{v.UserID, v.UserID}
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

// searchAll runs a search query with queryAll. On PostgreSQL, outside a
// transaction of the caller's, it runs in a transaction of its own that
// tells the planner what holds for a search: the rows it reads are
// cached, so a random read costs about what a sequential one does
// (random_page_cost, by default priced for disks, made it read all of
// images rather than look up a few thousand by index), and the query is
// short, so compiling it (jit) or starting parallel workers costs more
// than it saves (each doubled the time of searches at a million
// containers). SQLite needs none of this.
func searchAll[T any](ctx context.Context, s *Store, what string, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	if !s.postgres || s.inTx || s.readOnly {
		return queryAll(ctx, s, what, scan, q, args...)
	}
	var out []T
	err := s.ReadTx(ctx, func(tx meta.Store) error {
		t := tx.(*Store)
		if _, err := t.exec(ctx, what, `SELECT set_config('random_page_cost', '1.1', true), set_config('jit', 'off', true),
			set_config('max_parallel_workers_per_gather', '0', true)`); err != nil {
			return err
		}
		var err error
		out, err = queryAll(ctx, t, what, scan, q, args...)
		return err
	})
	return out, err
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

// top writes the CTE "top": the page asked for of hit, with its entity's
// name, ordered by that name, then hit's columns names (by name) and
// rest.
func (s *Store) top(b *sqlText, q meta.SearchQuery, names []string, rest ...string) {
	limit := q.Limit
	if limit <= 0 {
		limit = math.MaxInt32
	}
	b.add(`, top AS MATERIALIZED (SELECT hit.*, e.name AS e_name FROM hit CROSS JOIN entities e WHERE e.id = hit.e_id ORDER BY `+
		s.order("e.name", "hit.", names, rest)+` LIMIT ? OFFSET ?) `, limit, max(q.Offset, 0))
}

// order is the ORDER BY list: first, then prefix+names by name, then
// prefix+rest.
func (s *Store) order(first, prefix string, names, rest []string) string {
	cols := []string{first}
	for _, n := range names {
		cols = append(cols, prefix+n)
	}
	out := s.byName(cols...)
	for _, r := range rest {
		out += ", " + prefix + r
	}
	return out
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

// hits writes "SELECT sel FROM tables WHERE …": the rows of tables that
// match text in table (aliased alias), with the further conditions w.
func (s *Store) hits(b *sqlText, sel, table, alias, tables, text string, w where, cols ...string) {
	m := s.matching(table, alias, text, cols...)
	b.add(`SELECT `+sel+` FROM `+m.from+tables, m.fromArgs...)
	w.conds = append([]string{m.cond}, w.conds...)
	w.args = append(append([]any{}, m.condArgs...), w.args...)
	w.write(b)
}

// What "hit" holds of a collection (c) and of a container (k) with its
// collection (c): the ids to read the rows by and the names to order by.
const (
	collectionHit = `c.id AS c_id, c.name AS c_name, c.entity_id AS e_id`
	containerHit  = `k.id AS k_id, k.name AS k_name, ` + collectionHit
)

func (s *Store) SearchEntities(ctx context.Context, q meta.SearchQuery) ([]meta.Entity, error) {
	var b sqlText
	b.add(`WITH hit AS MATERIALIZED (`)
	s.hits(&b, `e.id AS e_id`, "entities", "e", `entities e`, q.Text, where{}, "name", "description")
	b.add(`)`)
	s.top(&b, q, nil)
	b.add(`SELECT ` + qualify("e", entityCols) + ` FROM top CROSS JOIN entities e WHERE e.id = top.e_id ORDER BY ` +
		s.order("top.e_name", "", nil, nil))
	return searchAll(ctx, s, "search entities", scanEntity, b.String(), b.args...)
}

func (s *Store) SearchCollections(ctx context.Context, q meta.SearchQuery) ([]meta.CollectionHit, error) {
	var b sqlText
	var w where
	vis, args := visible(q.Viewer)
	w.add(vis, args...)
	b.add(`WITH hit AS MATERIALIZED (`)
	s.hits(&b, collectionHit, "collections", "c", `collections c`, q.Text, w, "name", "description")
	b.add(`)`)
	s.top(&b, q, []string{"c_name"})
	b.add(`SELECT ` + qualify("c", collectionCols) + `, ` + qualify("e", entityCols) +
		` FROM top CROSS JOIN collections c CROSS JOIN entities e WHERE c.id = top.c_id AND e.id = top.e_id ORDER BY ` +
		s.order("top.e_name", "top.", []string{"c_name"}, nil))
	return searchAll(ctx, s, "search collections", func(r scanner) (meta.CollectionHit, error) {
		var h meta.CollectionHit
		var cc, cu, ec int64
		err := r.Scan(&h.Collection.ID, &h.Collection.EntityID, &h.Collection.Name, &h.Collection.Description,
			&h.Collection.OwnerID, &h.Collection.Private, &cc, &cu,
			&h.Entity.ID, &h.Entity.Name, &h.Entity.Description, &h.Entity.OwnerID, &h.Entity.DefaultPrivate, &ec)
		h.Collection.CreatedAt, h.Collection.UpdatedAt, h.Entity.CreatedAt = fromDB(cc), fromDB(cu), fromDB(ec)
		return h, err
	}, b.String(), b.args...)
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

// The outer query of containers and images reads the page's containers,
// collections and entities.
var (
	containerHitCols = qualify("k", containerCols) + `, ` + qualify("c", collectionCols) + `, ` + qualify("e", entityCols)
	containerHitRows = ` FROM top CROSS JOIN containers k CROSS JOIN collections c CROSS JOIN entities e`
	containerHitIDs  = ` WHERE k.id = top.k_id AND c.id = top.c_id AND e.id = top.e_id`
)

func (s *Store) SearchContainers(ctx context.Context, q meta.SearchQuery) ([]meta.ContainerHit, error) {
	var b sqlText
	var w where
	w.add(`c.id = k.collection_id`)
	vis, args := visible(q.Viewer)
	w.add(vis, args...)
	b.add(`WITH hit AS MATERIALIZED (`)
	s.hits(&b, containerHit, "containers", "k", `containers k CROSS JOIN collections c`, q.Text, w, "name", "description")
	b.add(`)`)
	names := []string{"c_name", "k_name"}
	s.top(&b, q, names)
	b.add(`SELECT ` + containerHitCols + containerHitRows + containerHitIDs + ` ORDER BY ` + s.order("top.e_name", "top.", names, nil))
	return searchAll(ctx, s, "search containers", func(r scanner) (meta.ContainerHit, error) { return scanContainerHit(r) },
		b.String(), b.args...)
}

func (s *Store) SearchImages(ctx context.Context, q meta.SearchQuery) ([]meta.ImageHit, error) {
	var b sqlText
	if q.Text == "" {
		if q.LabelKey == "" {
			return nil, nil
		}
		s.labelHits(&b, q)
	} else {
		s.imageHits(&b, q)
	}
	names, rest := []string{"c_name", "k_name"}, []string{"i_created_at", "i_id"}
	s.top(&b, q, names, rest...)
	b.add(`SELECT ` + containerHitCols + `, ` + qualify("i", imageCols) + containerHitRows + ` CROSS JOIN images i` +
		containerHitIDs + ` AND i.id = top.i_id ORDER BY ` + s.order("top.e_name", "top.", names, rest))
	hits, err := searchAll(ctx, s, "search images", func(r scanner) (meta.ImageHit, error) {
		var i meta.Image
		var ic, iu int64
		h, err := scanContainerHit(r, &i.ID, &i.ContainerID, &i.Digest, &i.Size, &i.Arch, &i.Description, &i.Uploaded,
			&i.Metadata, &i.ManifestDigest, &i.CreatedBy, &ic, &iu)
		i.CreatedAt, i.UpdatedAt = fromDB(ic), fromDB(iu)
		return meta.ImageHit{Image: i, Container: h.Container, Collection: h.Collection, Entity: h.Entity}, err
	}, b.String(), b.args...)
	if err != nil || len(hits) == 0 {
		return hits, err
	}
	return hits, s.addTags(ctx, hits)
}

// imageHits writes "WITH k_hit AS (…), hit AS (…)": the visible images in
// a container whose name or description, a collection whose name or an
// entity whose name contains the text (k_hit), or whose own description
// does; and that pass the arch and signed filters. Unions of one index
// lookup per table, which the databases can drive from the indexes where
// ORs across a join would read every image. Privacy is decided per
// container before any image is looked up, so hidden hits cost no image
// lookups.
func (s *Store) imageHits(b *sqlText, q meta.SearchQuery) {
	vis, visArgs := visible(q.Viewer)
	containers := func(table, alias, tables, joins string, cols ...string) {
		var w where
		w.add(joins)
		w.add(vis, visArgs...)
		s.hits(b, containerHit, table, alias, tables, q.Text, w, cols...)
	}
	b.add(`WITH k_hit AS MATERIALIZED (`)
	containers("containers", "k", `containers k CROSS JOIN collections c`, `c.id = k.collection_id`, "name", "description")
	b.add(` UNION `)
	containers("collections", "c", `collections c CROSS JOIN containers k`, `k.collection_id = c.id`, "name")
	b.add(` UNION `)
	containers("entities", "e", `entities e CROSS JOIN collections c CROSS JOIN containers k`,
		`c.entity_id = e.id AND k.collection_id = c.id`, "name")
	b.add(`), hit AS MATERIALIZED (SELECT k_hit.*, i.id AS i_id, i.created_at AS i_created_at FROM k_hit CROSS JOIN images i`)
	w := s.imageFilters(q)
	w.conds = append([]string{`i.container_id = k_hit.k_id`}, w.conds...)
	w.write(b)
	b.add(` UNION `)
	w = s.imageFilters(q)
	w.add(`k.id = i.container_id AND c.id = k.collection_id`)
	w.add(vis, visArgs...)
	s.hits(b, containerHit+`, i.id AS i_id, i.created_at AS i_created_at`, "images", "i",
		`images i CROSS JOIN containers k CROSS JOIN collections c`, q.Text, w, "description")
	b.add(`)`)
}

// imageFilters are the conditions on the image aliased i: uploaded, and
// of the asked architectures and signed if asked.
func (s *Store) imageFilters(q meta.SearchQuery) where {
	var w where
	w.add(`i.uploaded = ?`, true)
	if len(q.Arches) > 0 {
		in, args := inList(q.Arches)
		w.add(`(i.arch = '' OR i.arch IN `+in+`)`, args...)
	}
	if q.Signed {
		w.add(s.signed("i.metadata"))
	}
	if q.LabelKey != "" {
		cond, args := `EXISTS (SELECT 1 FROM labels l WHERE l.image_id = i.id AND l.key = ?`, []any{q.LabelKey}
		if q.LabelValue != "" {
			cond, args = cond+` AND l.value = ?`, append(args, q.LabelValue)
		}
		w.add(cond+`)`, args...)
	}
	return w
}

// labelHits writes "WITH hit AS (…)" for a search by label alone: the
// visible images carrying the label, driven from labels_key_value (one
// row per image and key), so the cost follows the images that carry it.
func (s *Store) labelHits(b *sqlText, q meta.SearchQuery) {
	label := q
	label.LabelKey = "" // the join below is the label condition
	w := s.imageFilters(label)
	w.conds = append([]string{`l.key = ?`}, w.conds...)
	w.args = append([]any{q.LabelKey}, w.args...)
	if q.LabelValue != "" {
		w.add(`l.value = ?`, q.LabelValue)
	}
	w.add(`i.id = l.image_id AND k.id = i.container_id AND c.id = k.collection_id`)
	vis, args := visible(q.Viewer)
	w.add(vis, args...)
	b.add(`WITH hit AS MATERIALIZED (SELECT ` + containerHit + `, i.id AS i_id, i.created_at AS i_created_at
		FROM labels l CROSS JOIN images i CROSS JOIN containers k CROSS JOIN collections c`)
	w.write(b)
	b.add(`)`)
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
