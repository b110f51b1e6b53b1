package sqlmeta

import (
	"context"

	"github.com/silo-hpc/silo/internal/meta"
)

// CountDownload adds one to an image's download count. It leaves
// updated_at alone: a download is not a change.
func (s *Store) CountDownload(ctx context.Context, imageID string) error {
	return s.execOne(ctx, "image", `UPDATE images SET downloads = downloads + 1 WHERE id = ?`, imageID)
}

func (s *Store) DeleteLibraryTag(ctx context.Context, containerID, arch, tag string) error {
	return s.execOne(ctx, "tag "+tag, `DELETE FROM library_tags WHERE container_id = ? AND arch = ? AND tag = ?`,
		containerID, arch, tag)
}

// RecentImages walks images newest first (images_updated) and keeps the
// visible ones: privacy is the search's condition (visible), inside the
// query, so a page of recent pushes is full however many hidden ones are
// newer.
func (s *Store) RecentImages(ctx context.Context, v meta.Viewer, limit int) ([]meta.ImageHit, error) {
	var b sqlText
	b.add(`SELECT ` + containerHitCols + `, ` + qualify("i", imageReadCols) +
		` FROM images i CROSS JOIN containers k CROSS JOIN collections c CROSS JOIN entities e`)
	var w where
	w.add(`i.uploaded = ? AND k.id = i.container_id AND c.id = k.collection_id AND e.id = c.entity_id`, true)
	vis, args := visible(v)
	w.add(vis, args...)
	w.write(&b)
	b.add(` ORDER BY i.updated_at DESC, i.id LIMIT ?`, limitOf(limit))
	hits, err := queryAll(ctx, s, "recent images", func(r scanner) (meta.ImageHit, error) {
		var i meta.Image
		var ic, iu int64
		h, err := scanContainerHit(r, &i.ID, &i.ContainerID, &i.Digest, &i.Size, &i.Arch, &i.Description, &i.Uploaded,
			&i.Metadata, &i.ManifestDigest, &i.CreatedBy, &ic, &iu, &i.Downloads)
		i.CreatedAt, i.UpdatedAt = fromDB(ic), fromDB(iu)
		return meta.ImageHit{Image: i, Container: h.Container, Collection: h.Collection, Entity: h.Entity}, err
	}, b.String(), b.args...)
	if err != nil || len(hits) == 0 {
		return hits, err
	}
	return hits, s.addTags(ctx, hits)
}
