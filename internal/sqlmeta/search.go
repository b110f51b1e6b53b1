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
// The dialects differ only in matching and signed, below; the privacy
// condition and the rest of the SQL are shared. Joins are written as
// CROSS JOIN with their conditions in WHERE: SQLite then joins in the
// order written, starting from the text index, where its planner might
// otherwise walk a whole table in ORDER BY order; PostgreSQL plans CROSS
// JOIN like any inner join.

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

// signed is the condition "the image aliased i has "signed": true in its
// metadata JSON".
func (s *Store) signed() string {
	if s.postgres {
		return `(i.metadata::jsonb ->> 'signed') = 'true'`
	}
	return `json_extract(i.metadata, '$.signed') = 1`
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

// end writes WHERE, ORDER BY and the page.
func (w *where) end(b *sqlText, q meta.SearchQuery, order string) {
	limit := q.Limit
	if limit <= 0 {
		limit = math.MaxInt32
	}
	b.add(` WHERE `+strings.Join(w.conds, " AND "), w.args...)
	b.add(` ORDER BY `+order+` LIMIT ? OFFSET ?`, limit, max(q.Offset, 0))
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

func (s *Store) SearchEntities(ctx context.Context, q meta.SearchQuery) ([]meta.Entity, error) {
	var b sqlText
	var w where
	m := s.matching("entities", "e", q.Text, "name", "description")
	b.add(`SELECT `+qualify("e", entityCols)+` FROM `+m.from+`entities e`, m.fromArgs...)
	w.add(m.cond, m.condArgs...)
	w.end(&b, q, "e.name")
	return queryAll(ctx, s, "search entities", scanEntity, b.String(), b.args...)
}

func (s *Store) SearchCollections(ctx context.Context, q meta.SearchQuery) ([]meta.CollectionHit, error) {
	var b sqlText
	var w where
	m := s.matching("collections", "c", q.Text, "name", "description")
	b.add(`SELECT `+qualify("c", collectionCols)+`, `+qualify("e", entityCols)+
		` FROM `+m.from+`collections c CROSS JOIN entities e`, m.fromArgs...)
	w.add(m.cond, m.condArgs...)
	w.add(`e.id = c.entity_id`)
	cond, args := visible(q.Viewer)
	w.add(cond, args...)
	w.end(&b, q, "e.name, c.name")
	return queryAll(ctx, s, "search collections", func(r scanner) (meta.CollectionHit, error) {
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

var containerHitCols = qualify("k", containerCols) + `, ` + qualify("c", collectionCols) + `, ` + qualify("e", entityCols)

// A container k with its collection c and entity e.
const (
	containerHitTables = `containers k CROSS JOIN collections c CROSS JOIN entities e`
	containerHitJoins  = `c.id = k.collection_id AND e.id = c.entity_id`
)

func (s *Store) SearchContainers(ctx context.Context, q meta.SearchQuery) ([]meta.ContainerHit, error) {
	var b sqlText
	var w where
	m := s.matching("containers", "k", q.Text, "name", "description")
	b.add(`SELECT `+containerHitCols+` FROM `+m.from+containerHitTables, m.fromArgs...)
	w.add(m.cond, m.condArgs...)
	w.add(containerHitJoins)
	cond, args := visible(q.Viewer)
	w.add(cond, args...)
	w.end(&b, q, "e.name, c.name, k.name")
	return queryAll(ctx, s, "search containers", func(r scanner) (meta.ContainerHit, error) { return scanContainerHit(r) },
		b.String(), b.args...)
}

func (s *Store) SearchImages(ctx context.Context, q meta.SearchQuery) ([]meta.ImageHit, error) {
	var b sqlText
	var w where
	b.add(`SELECT ` + containerHitCols + `, ` + qualify("i", imageCols) + ` FROM `)
	s.imageMatches(&b, q.Text)
	b.add(`images i CROSS JOIN ` + containerHitTables)
	w.add(`i.id = hit.id AND k.id = i.container_id AND ` + containerHitJoins)
	w.add(`i.uploaded = ?`, true)
	cond, args := visible(q.Viewer)
	w.add(cond, args...)
	if len(q.Arches) > 0 {
		in, args := inList(q.Arches)
		w.add(`(i.arch = '' OR i.arch IN `+in+`)`, args...)
	}
	if q.Signed {
		w.add(s.signed())
	}
	w.end(&b, q, "e.name, c.name, k.name, i.created_at, i.id")
	hits, err := queryAll(ctx, s, "search images", func(r scanner) (meta.ImageHit, error) {
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

// imageMatches writes "(…) hit CROSS JOIN ", the ids of the images in a
// container whose name or description, a collection whose name, or an
// entity whose name contains text, or whose own description does. It is
// a union of one index lookup per table, which the databases can drive
// from the indexes where ORs across a join would read every image.
func (s *Store) imageMatches(b *sqlText, text string) {
	branch := func(sel, table, alias, tables, joins string, cols ...string) {
		m := s.matching(table, alias, text, cols...)
		b.add(sel+` FROM `+m.from+tables, m.fromArgs...)
		b.add(` WHERE `+m.cond+joins, m.condArgs...)
	}
	b.add(`(`)
	branch(`SELECT i1.id`, "containers", "k1", `containers k1 CROSS JOIN images i1`,
		` AND i1.container_id = k1.id`, "name", "description")
	b.add(` UNION `)
	branch(`SELECT i2.id`, "collections", "c2", `collections c2 CROSS JOIN containers k2 CROSS JOIN images i2`,
		` AND k2.collection_id = c2.id AND i2.container_id = k2.id`, "name")
	b.add(` UNION `)
	branch(`SELECT i3.id`, "entities", "e3", `entities e3 CROSS JOIN collections c3 CROSS JOIN containers k3 CROSS JOIN images i3`,
		` AND c3.entity_id = e3.id AND k3.collection_id = c3.id AND i3.container_id = k3.id`, "name")
	b.add(` UNION `)
	branch(`SELECT i4.id`, "images", "i4", `images i4`, ``, "description")
	b.add(`) hit CROSS JOIN `)
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
