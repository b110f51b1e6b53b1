package sqlmeta

import (
	"context"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

// byteOrder makes a text column compare in byte order, which OCI tag and
// catalog pagination require (the conformance suite checks against Go's
// sort). SQLite's default BINARY collation already is; PostgreSQL's
// depends on the database locale unless told.
func (s *Store) byteOrder(col string) string {
	if s.postgres {
		return col + ` COLLATE "C"`
	}
	return col
}

// limitOf turns a page size into a LIMIT value; n <= 0 means no limit.
func limitOf(n int) int64 {
	if n <= 0 {
		return 1 << 62
	}
	return int64(n)
}

const repositoryCols = `id, name, COALESCE(container_id, ''), owner_id, private, created_at`

func scanRepository(r scanner) (meta.Repository, error) {
	var x meta.Repository
	var created int64
	err := r.Scan(&x.ID, &x.Name, &x.ContainerID, &x.OwnerID, &x.Private, &created)
	x.CreatedAt = fromDB(created)
	return x, err
}

// nullable stores "" as NULL, for the optional container reference.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Store) CreateRepository(ctx context.Context, r *meta.Repository) error {
	if r.ID == "" {
		r.ID = newID()
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now()
	}
	_, err := s.exec(ctx, "repository "+r.Name, `INSERT INTO repositories (id, name, container_id, owner_id, private, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		r.ID, r.Name, nullable(r.ContainerID), r.OwnerID, r.Private, toDB(r.CreatedAt))
	return err
}

func (s *Store) GetRepository(ctx context.Context, name string) (meta.Repository, error) {
	r, err := scanRepository(s.queryRow(ctx, `SELECT `+repositoryCols+` FROM repositories WHERE name = ?`, name))
	return r, mapErr(err, "repository "+name)
}

func (s *Store) GetRepositoryByContainer(ctx context.Context, containerID string) (meta.Repository, error) {
	r, err := scanRepository(s.queryRow(ctx, `SELECT `+repositoryCols+` FROM repositories WHERE container_id = ?`, containerID))
	return r, mapErr(err, "repository")
}

func (s *Store) ListRepositories(ctx context.Context, last string, n int) ([]meta.Repository, error) {
	return queryAll(ctx, s, "repositories", scanRepository,
		`SELECT `+repositoryCols+` FROM repositories WHERE `+s.byteOrder("name")+` > ? ORDER BY `+s.byteOrder("name")+` LIMIT ?`, last, limitOf(n))
}

func (s *Store) UpdateRepository(ctx context.Context, r *meta.Repository) error {
	return s.execOne(ctx, "repository "+r.Name, `UPDATE repositories SET container_id = ?, owner_id = ?, private = ? WHERE id = ?`,
		nullable(r.ContainerID), r.OwnerID, r.Private, r.ID)
}

func scanBlob(r scanner) (meta.BlobRecord, error) {
	var b meta.BlobRecord
	var created int64
	err := r.Scan(&b.Digest, &b.Size, &created)
	b.CreatedAt = fromDB(created)
	return b, err
}

func (s *Store) LinkBlob(ctx context.Context, repoID, digest string) error {
	// INSERT ... SELECT so a blob never recorded is NotFound rather than a
	// foreign-key failure each database words differently.
	// A link made again is touched (the collector keeps links touched
	// within its grace period).
	res, err := s.exec(ctx, "blob", `INSERT INTO repository_blobs (repository_id, digest, created_at)
		SELECT CAST(? AS TEXT), digest, CAST(? AS BIGINT) FROM blobs WHERE digest = ? AND state = 'live'
		ON CONFLICT (repository_id, digest) DO UPDATE SET created_at = excluded.created_at`,
		repoID, toDB(now()), digest)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return s.notLive(ctx, digest)
	}
	return nil
}

func (s *Store) GetRepositoryBlob(ctx context.Context, repoID, digest string) (meta.BlobRecord, error) {
	b, err := scanBlob(s.queryRow(ctx, `SELECT b.digest, b.size, b.created_at FROM repository_blobs rb
		JOIN blobs b ON b.digest = rb.digest WHERE rb.repository_id = ? AND rb.digest = ? AND b.state = 'live'`, repoID, digest))
	return b, mapErr(err, "blob")
}

func (s *Store) UnlinkBlob(ctx context.Context, repoID, digest string) error {
	return s.execOne(ctx, "blob", `DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?`, repoID, digest)
}

const manifestCols = `repository_id, digest, media_type, size, artifact_type, config_media_type, subject, annotations, created_at`

func scanManifest(r scanner, content *[]byte) (meta.Manifest, error) {
	var m meta.Manifest
	var created int64
	dest := []any{&m.RepositoryID, &m.Digest, &m.MediaType, &m.Size, &m.ArtifactType, &m.ConfigMediaType, &m.Subject, &m.Annotations, &created}
	if content != nil {
		dest = append(dest, content)
	}
	err := r.Scan(dest...)
	m.CreatedAt = fromDB(created)
	return m, err
}

func (s *Store) PutManifest(ctx context.Context, m *meta.Manifest, refs []string) error {
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now()
	}
	m.Size = int64(len(m.Content))
	_, err := s.exec(ctx, "manifest", `INSERT INTO manifests (`+manifestCols+`, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (repository_id, digest) DO NOTHING`,
		m.RepositoryID, m.Digest, m.MediaType, m.Size, m.ArtifactType, m.ConfigMediaType, m.Subject, m.Annotations, toDB(m.CreatedAt), m.Content)
	if err != nil {
		return err
	}
	for _, ref := range refs {
		if _, err := s.exec(ctx, "manifest reference", `INSERT INTO manifest_refs (repository_id, manifest_digest, ref_digest) VALUES (?, ?, ?)
			ON CONFLICT (repository_id, manifest_digest, ref_digest) DO NOTHING`, m.RepositoryID, m.Digest, ref); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) GetManifest(ctx context.Context, repoID, digest string) (meta.Manifest, error) {
	var content []byte
	m, err := scanManifest(s.queryRow(ctx, `SELECT `+manifestCols+`, content FROM manifests WHERE repository_id = ? AND digest = ?`, repoID, digest), &content)
	m.Content = content
	return m, mapErr(err, "manifest")
}

// lookupCols reads a repository, its library collection's privacy and a
// manifest (columns of absent rows read as empty).
var lookupCols = qualify("r", "id, name") + `, COALESCE(r.container_id, ''), r.owner_id, r.private, r.created_at,
	COALESCE(c.id, ''), COALESCE(c.owner_id, ''), COALESCE(c.private, FALSE),
	COALESCE(m.digest, ''), COALESCE(m.media_type, ''), COALESCE(m.size, 0), m.content`

const lookupJoins = ` FROM repositories r
	LEFT JOIN containers k ON k.id = r.container_id
	LEFT JOIN collections c ON c.id = k.collection_id `

// LookupManifest is read by every pull: its answers are kept in the read
// cache (readcache.go) while the database does not change.
func (s *Store) LookupManifest(ctx context.Context, name, tag, digest string) (meta.ManifestLookup, error) {
	return cachedRead(s, s.manifests, manifestKey{name, tag, digest}, func() (meta.ManifestLookup, error) {
		return s.lookupManifest(ctx, name, tag, digest)
	})
}

// manifestKey is a LookupManifest's arguments.
type manifestKey struct{ name, tag, digest string }

func (s *Store) lookupManifest(ctx context.Context, name, tag, digest string) (meta.ManifestLookup, error) {
	var row scanner
	if tag != "" {
		row = s.queryRow(ctx, `SELECT `+lookupCols+lookupJoins+`
			LEFT JOIN oci_tags t ON t.repository_id = r.id AND t.tag = ?
			LEFT JOIN manifests m ON m.repository_id = r.id AND m.digest = t.digest
			WHERE r.name = ?`, tag, name)
	} else {
		row = s.queryRow(ctx, `SELECT `+lookupCols+lookupJoins+`
			LEFT JOIN manifests m ON m.repository_id = r.id AND m.digest = ?
			WHERE r.name = ?`, digest, name)
	}
	var l meta.ManifestLookup
	var created int64
	r, c, m := &l.Repository, &l.Collection, &l.Manifest
	err := row.Scan(&r.ID, &r.Name, &r.ContainerID, &r.OwnerID, &r.Private, &created,
		&c.ID, &c.OwnerID, &c.Private, &m.Digest, &m.MediaType, &m.Size, &m.Content)
	r.CreatedAt = fromDB(created)
	m.RepositoryID, l.Found = r.ID, m.Digest != ""
	return l, mapErr(err, "repository "+name)
}

func (s *Store) DeleteManifest(ctx context.Context, repoID, digest string) error {
	// Tags and references go by ON DELETE CASCADE; delete tags explicitly
	// too, so the rule does not depend on SQLite's foreign_keys pragma.
	if _, err := s.exec(ctx, "tags", `DELETE FROM oci_tags WHERE repository_id = ? AND digest = ?`, repoID, digest); err != nil {
		return err
	}
	if _, err := s.exec(ctx, "manifest references", `DELETE FROM manifest_refs WHERE repository_id = ? AND manifest_digest = ?`, repoID, digest); err != nil {
		return err
	}
	return s.execOne(ctx, "manifest", `DELETE FROM manifests WHERE repository_id = ? AND digest = ?`, repoID, digest)
}

func (s *Store) ListReferrers(ctx context.Context, repoID, subject string) ([]meta.Manifest, error) {
	return queryAll(ctx, s, "referrers", func(r scanner) (meta.Manifest, error) { return scanManifest(r, nil) },
		`SELECT `+manifestCols+` FROM manifests WHERE repository_id = ? AND subject = ? ORDER BY created_at, digest`, repoID, subject)
}

func scanTag(r scanner) (meta.Tag, error) {
	var t meta.Tag
	var updated int64
	err := r.Scan(&t.RepositoryID, &t.Name, &t.Digest, &updated)
	t.UpdatedAt = fromDB(updated)
	return t, err
}

func (s *Store) PutTag(ctx context.Context, t *meta.Tag) error {
	t.UpdatedAt = now()
	res, err := s.exec(ctx, "tag "+t.Name, `INSERT INTO oci_tags (repository_id, tag, digest, updated_at)
		SELECT repository_id, CAST(? AS TEXT), digest, CAST(? AS BIGINT) FROM manifests WHERE repository_id = ? AND digest = ?
		ON CONFLICT (repository_id, tag) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`,
		t.Name, toDB(t.UpdatedAt), t.RepositoryID, t.Digest)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.New(apperr.NotFound, "tag %s: manifest not found", t.Name)
	}
	return nil
}

func (s *Store) GetTag(ctx context.Context, repoID, name string) (meta.Tag, error) {
	t, err := scanTag(s.queryRow(ctx, `SELECT repository_id, tag, digest, updated_at FROM oci_tags WHERE repository_id = ? AND tag = ?`, repoID, name))
	return t, mapErr(err, "tag "+name)
}

func (s *Store) ListTags(ctx context.Context, repoID, last string, n int) ([]meta.Tag, error) {
	return queryAll(ctx, s, "tags", scanTag, `SELECT repository_id, tag, digest, updated_at FROM oci_tags
		WHERE repository_id = ? AND `+s.byteOrder("tag")+` > ? ORDER BY `+s.byteOrder("tag")+` LIMIT ?`, repoID, last, limitOf(n))
}

func (s *Store) ListTagsFor(ctx context.Context, repoID, digest string) ([]meta.Tag, error) {
	return queryAll(ctx, s, "tags", scanTag, `SELECT repository_id, tag, digest, updated_at FROM oci_tags
		WHERE repository_id = ? AND digest = ? ORDER BY `+s.byteOrder("tag"), repoID, digest)
}

func (s *Store) DeleteTag(ctx context.Context, repoID, name string) error {
	return s.execOne(ctx, "tag "+name, `DELETE FROM oci_tags WHERE repository_id = ? AND tag = ?`, repoID, name)
}
