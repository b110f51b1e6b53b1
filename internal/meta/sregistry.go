package meta

import "context"

// CollectionQuery finds collections by exact name and entity; "" matches
// any. Collections the viewer may not read are left out.
type CollectionQuery struct {
	EntityID string
	Name     string
	Viewer   Viewer
}

// TagQuery finds library tags by the exact names of their entity,
// collection, container and tag; "" matches any. Tags in collections the
// viewer may not read are left out.
type TagQuery struct {
	EntityID   string
	Collection string
	Container  string
	Tag        string
	Viewer     Viewer
}

// TagRow is one library tag with the image it names and the tag's
// container, collection and entity.
type TagRow struct {
	ContainerHit
	Tag   LibraryTag
	Image Image
}

// SRegistry is what the Singularity Registry Server API
// (internal/sregistry) reads and writes beyond the library's own
// queries: its names are collection/container:tag, found across
// entities, and its download URLs are capabilities each collection can
// revoke.
type SRegistry interface {
	// FindCollections lists the collections that match q, with their
	// entities, ordered by entity name, then collection name.
	FindCollections(ctx context.Context, q CollectionQuery) ([]CollectionHit, error)
	// FindTags lists the tags that match q, ordered by entity,
	// collection, container and tag name, then architecture.
	FindTags(ctx context.Context, q TagQuery) ([]TagRow, error)
	// GetDownloadSalt returns the salt of a collection's download URLs:
	// "" until the first rotation.
	GetDownloadSalt(ctx context.Context, collectionID string) (string, error)
	// SetDownloadSalt replaces it (a rotation); the collection must exist.
	SetDownloadSalt(ctx context.Context, collectionID, salt string) error
}
