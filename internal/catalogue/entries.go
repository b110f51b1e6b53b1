package catalogue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Name is collection/container:tag@version.
type Name struct {
	Collection, Container, Tag string
	// Version is the file's sha256 hex; in a lookup, "" means the most
	// recently recorded version and a prefix names the one it starts.
	Version string
}

// URI is collection/container:tag, the name the seed's messages show.
func (n Name) URI() string { return n.Collection + "/" + n.Container + ":" + n.Tag }

// String is the URI with @version when there is one.
func (n Name) String() string {
	if n.Version == "" {
		return n.URI()
	}
	return n.URI() + "@" + n.Version
}

// Entry is one recorded image.
type Entry struct {
	ID           int64
	CollectionID int64
	Name
	Client string // library, oras, docker, shub, local
	Image  string // the local file, "" when none is kept
	URL    string // where the bytes came from
	Source string // the reference pulled
	Size   int64
	// Metrics is what the server said about the image (a JSON object).
	Metrics   json.RawMessage
	CreatedAt time.Time
	UpdatedAt time.Time
}

const timeLayout = time.RFC3339Nano

// Record adds e, or updates the entry of the same name and version
// (collection, container, tag and version all equal); created says which.
func (c *Catalogue) Record(ctx context.Context, e Entry) (Entry, bool, error) {
	if len(e.Metrics) == 0 {
		e.Metrics = json.RawMessage("{}")
	}
	now := time.Now().UTC()
	created := false
	err := c.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO collections (name) VALUES (?) ON CONFLICT (name) DO NOTHING`, e.Collection); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT id FROM collections WHERE name = ?`, e.Collection).Scan(&e.CollectionID); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, `SELECT id, created_at FROM images WHERE collection_id = ? AND name = ? AND tag = ? AND version = ?`,
			e.CollectionID, e.Container, e.Tag, e.Version).Scan(&e.ID, (*stamp)(&e.CreatedAt))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			created, e.CreatedAt = true, now
			return tx.QueryRowContext(ctx, `INSERT INTO images (collection_id, name, tag, version, client, image, url, source,
				size, metrics, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
				e.CollectionID, e.Container, e.Tag, e.Version, e.Client, nullable(e.Image), e.URL, e.Source, e.Size,
				string(e.Metrics), now.Format(timeLayout), now.Format(timeLayout)).Scan(&e.ID)
		case err != nil:
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE images SET client = ?, image = ?, url = ?, source = ?, size = ?, metrics = ?,
			updated_at = ? WHERE id = ?`, e.Client, nullable(e.Image), e.URL, e.Source, e.Size, string(e.Metrics),
			now.Format(timeLayout), e.ID)
		return err
	})
	e.UpdatedAt = now
	return e, created, err
}

func (c *Catalogue) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

const entryCols = `i.id, i.collection_id, c.name, i.name, i.tag, i.version, i.client, i.image, i.url, i.source,
	i.size, i.metrics, i.created_at, i.updated_at`

const entryFrom = ` FROM images i JOIN collections c ON c.id = i.collection_id`

func scanEntry(r interface{ Scan(...any) error }) (Entry, error) {
	var e Entry
	var image sql.NullString
	var metrics string
	err := r.Scan(&e.ID, &e.CollectionID, &e.Collection, &e.Container, &e.Tag, &e.Version, &e.Client, &image, &e.URL,
		&e.Source, &e.Size, &metrics, (*stamp)(&e.CreatedAt), (*stamp)(&e.UpdatedAt))
	e.Image, e.Metrics = image.String, json.RawMessage(metrics)
	return e, err
}

// stamp scans the stored RFC 3339 text.
type stamp time.Time

func (s *stamp) Scan(v any) error {
	str, ok := v.(string)
	if !ok {
		return fmt.Errorf("time column holds %T", v)
	}
	t, err := time.Parse(timeLayout, str)
	*s = stamp(t)
	return err
}

// Get finds the entry n names: with a version (or a prefix of one), that
// version; without, the most recently recorded one.
func (c *Catalogue) Get(ctx context.Context, n Name) (Entry, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT `+entryCols+entryFrom+` WHERE c.name = ? AND i.name = ? AND i.tag = ?
		AND substr(i.version, 1, ?) = ? ORDER BY i.updated_at DESC, i.id DESC`,
		n.Collection, n.Container, n.Tag, len(n.Version), n.Version)
	if err != nil {
		return Entry{}, err
	}
	defer rows.Close()
	var found []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return Entry{}, err
		}
		found = append(found, e)
	}
	if err := rows.Err(); err != nil {
		return Entry{}, err
	}
	if len(found) == 0 {
		return Entry{}, fmt.Errorf("%s: %w", n, ErrNotFound)
	}
	if n.Version != "" && len(found) > 1 {
		for _, e := range found {
			if e.Version == n.Version {
				return e, nil
			}
		}
		return Entry{}, fmt.Errorf("%s names more than one version: give more of it", n)
	}
	return found[0], nil
}

// List returns every entry, or those whose name, tag or URI contains
// query (sregistry-cli's images filter), oldest first.
func (c *Catalogue) List(ctx context.Context, query string) ([]Entry, error) {
	q := `SELECT ` + entryCols + entryFrom
	var args []any
	if query != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(query) + "%"
		q += ` WHERE i.name = ? OR i.tag LIKE ? ESCAPE '\' OR (c.name || '/' || i.name || ':' || i.tag || '@' || i.version) LIKE ? ESCAPE '\'`
		args = []any{query, like, like}
	}
	rows, err := c.db.QueryContext(ctx, q+` ORDER BY i.id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Remove forgets an entry (its file is the caller's business).
func (c *Catalogue) Remove(ctx context.Context, id int64) error {
	_, err := c.db.ExecContext(ctx, `DELETE FROM images WHERE id = ?`, id)
	return err
}

// SetImage records that an entry's file moved to path.
func (c *Catalogue) SetImage(ctx context.Context, id int64, path string) error {
	_, err := c.db.ExecContext(ctx, `UPDATE images SET image = ?, updated_at = ? WHERE id = ?`,
		nullable(path), time.Now().UTC().Format(timeLayout), id)
	return err
}

// Using counts the entries whose file is path (several names may share
// one file: a version pulled under two tags).
func (c *Catalogue) Using(ctx context.Context, path string) (int, error) {
	var n int
	err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM images WHERE image = ?`, path).Scan(&n)
	return n, err
}
