package sqlmeta

import (
	"context"

	"github.com/silo-hpc/silo/internal/meta"
)

const imageCols = `id, container_id, digest, size, arch, description, uploaded, metadata, manifest_digest, created_by, created_at, updated_at`

// imageReadCols are imageCols and the download count, which only
// CountDownload writes.
const imageReadCols = imageCols + `, downloads`

func scanImage(r scanner) (meta.Image, error) {
	var i meta.Image
	var created, updated int64
	err := r.Scan(&i.ID, &i.ContainerID, &i.Digest, &i.Size, &i.Arch, &i.Description, &i.Uploaded,
		&i.Metadata, &i.ManifestDigest, &i.CreatedBy, &created, &updated, &i.Downloads)
	i.CreatedAt, i.UpdatedAt = fromDB(created), fromDB(updated)
	return i, err
}

func (s *Store) CreateImage(ctx context.Context, i *meta.Image) error {
	if i.ID == "" {
		i.ID = newID()
	}
	if i.CreatedAt.IsZero() {
		i.CreatedAt = now()
	}
	if i.Metadata == "" {
		i.Metadata = "{}"
	}
	i.UpdatedAt = i.CreatedAt
	_, err := s.exec(ctx, "image", `INSERT INTO images (`+imageCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		i.ID, i.ContainerID, i.Digest, i.Size, i.Arch, i.Description, i.Uploaded, i.Metadata, i.ManifestDigest,
		i.CreatedBy, toDB(i.CreatedAt), toDB(i.UpdatedAt))
	return err
}

func (s *Store) GetImage(ctx context.Context, id string) (meta.Image, error) {
	i, err := scanImage(s.queryRow(ctx, `SELECT `+imageReadCols+` FROM images WHERE id = ?`, id))
	return i, mapErr(err, "image")
}

func (s *Store) GetImageByDigest(ctx context.Context, containerID, digest string) (meta.Image, error) {
	i, err := scanImage(s.queryRow(ctx, `SELECT `+imageReadCols+` FROM images WHERE container_id = ? AND digest = ?`, containerID, digest))
	return i, mapErr(err, "image")
}

func (s *Store) ListImages(ctx context.Context, containerID string) ([]meta.Image, error) {
	return queryAll(ctx, s, "images", scanImage, `SELECT `+imageReadCols+` FROM images WHERE container_id = ? ORDER BY created_at, id`, containerID)
}

func (s *Store) ListImagesByDigest(ctx context.Context, digest string) ([]meta.Image, error) {
	return queryAll(ctx, s, "images", scanImage, `SELECT `+imageReadCols+` FROM images WHERE digest = ? ORDER BY created_at, id`, digest)
}

func (s *Store) UpdateImage(ctx context.Context, i *meta.Image) error {
	i.UpdatedAt = now()
	if i.Metadata == "" {
		i.Metadata = "{}"
	}
	return s.execOne(ctx, "image", `UPDATE images SET size = ?, arch = ?, description = ?, uploaded = ?, metadata = ?,
		manifest_digest = ?, updated_at = ? WHERE id = ?`,
		i.Size, i.Arch, i.Description, i.Uploaded, i.Metadata, i.ManifestDigest, toDB(i.UpdatedAt), i.ID)
}

// DeleteImage relies on ON DELETE CASCADE for the image's tags and labels.
func (s *Store) DeleteImage(ctx context.Context, id string) error {
	return s.execOne(ctx, "image", `DELETE FROM images WHERE id = ?`, id)
}

func (s *Store) EntityUsage(ctx context.Context, entityID string) (int64, error) {
	var n int64
	err := s.queryRow(ctx, `SELECT COALESCE(SUM(i.size), 0) FROM images i
		JOIN containers k ON k.id = i.container_id
		JOIN collections c ON c.id = k.collection_id
		WHERE c.entity_id = ? AND i.uploaded = ?`, entityID, true).Scan(&n)
	return n, mapErr(err, "entity usage")
}

const libraryTagCols = `container_id, arch, tag, image_id, updated_at`

func scanLibraryTag(r scanner) (meta.LibraryTag, error) {
	var t meta.LibraryTag
	var updated int64
	err := r.Scan(&t.ContainerID, &t.Arch, &t.Tag, &t.ImageID, &updated)
	t.UpdatedAt = fromDB(updated)
	return t, err
}

func (s *Store) SetLibraryTag(ctx context.Context, t *meta.LibraryTag) error {
	t.UpdatedAt = now()
	_, err := s.exec(ctx, "tag "+t.Tag, `INSERT INTO library_tags (`+libraryTagCols+`) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (container_id, arch, tag) DO UPDATE SET image_id = excluded.image_id, updated_at = excluded.updated_at`,
		t.ContainerID, t.Arch, t.Tag, t.ImageID, toDB(t.UpdatedAt))
	return err
}

func (s *Store) GetLibraryTag(ctx context.Context, containerID, arch, tag string) (meta.LibraryTag, error) {
	t, err := scanLibraryTag(s.queryRow(ctx, `SELECT `+libraryTagCols+` FROM library_tags WHERE container_id = ? AND arch = ? AND tag = ?`, containerID, arch, tag))
	return t, mapErr(err, "tag "+tag)
}

func (s *Store) ListLibraryTags(ctx context.Context, containerID string) ([]meta.LibraryTag, error) {
	return queryAll(ctx, s, "tags", scanLibraryTag, `SELECT `+libraryTagCols+` FROM library_tags WHERE container_id = ? ORDER BY tag, arch`, containerID)
}

func (s *Store) SetLabels(ctx context.Context, imageID string, labels map[string]string) error {
	if _, err := s.exec(ctx, "labels", `DELETE FROM labels WHERE image_id = ?`, imageID); err != nil {
		return err
	}
	// Each row holds the image's search number, which the label indexes
	// end with (0010_label_order): a label search reads carriers newest
	// first (search_labels.go).
	n := `(SELECT n FROM search_keys WHERE kind = 'images' AND id = ?)`
	if s.postgres {
		n = `(SELECT n FROM search_images WHERE id = ?)`
	}
	for k, v := range labels {
		if _, err := s.exec(ctx, "label "+k, `INSERT INTO labels (image_id, key, value, n) VALUES (?, ?, ?, `+n+`)`,
			imageID, k, v, imageID); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) GetLabels(ctx context.Context, imageID string) (map[string]string, error) {
	type kv struct{ k, v string }
	rows, err := queryAll(ctx, s, "labels", func(r scanner) (kv, error) {
		var p kv
		return p, r.Scan(&p.k, &p.v)
	}, `SELECT key, value FROM labels WHERE image_id = ?`, imageID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(rows))
	for _, p := range rows {
		out[p.k] = p.v
	}
	return out, nil
}
