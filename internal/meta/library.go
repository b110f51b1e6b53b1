package meta

import (
	"context"
	"time"
)

// Image is one SIF file in one library container. Its bytes are a single
// blob whose digest is Digest in OCI form ("sha256:<hex>"); the Library API
// shows it as "sha256.<hex>". An image exists before its bytes do (the
// client creates it, then uploads): Uploaded says the blob was verified and
// the image may be tagged, pulled and listed.
type Image struct {
	ID          string
	ContainerID string
	Digest      string
	Size        int64
	Arch        string // Go arch name (amd64, arm64, ...); "" when unknown
	Description string
	Uploaded    bool
	// Metadata is JSON the library service derives from the SIF header
	// (signatures, ...); "{}" when empty.
	Metadata string
	// ManifestDigest is the OCI manifest that carries this SIF, when one
	// was pushed through OCI or made by the OCI mirror; "" otherwise.
	ManifestDigest string
	CreatedBy      string // user id
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// LibraryTag names an image of a container for one architecture. Arch ""
// is an architecture-less tag (set through the v1 tag API for an image
// whose architecture is unknown).
type LibraryTag struct {
	ContainerID string
	Arch        string
	Tag         string
	ImageID     string
	UpdatedAt   time.Time
}

// ImageHit is an image search result with the names of its parents.
type ImageHit struct {
	Image      Image
	Container  Container
	Collection Collection
	Entity     Entity
}

// ContainerHit is a container search result with its parents.
type ContainerHit struct {
	Container  Container
	Collection Collection
	Entity     Entity
}

// CollectionHit is a collection search result with its entity.
type CollectionHit struct {
	Collection Collection
	Entity     Entity
}

// LibraryImages stores library images.
type LibraryImages interface {
	// CreateImage adds an image; (ContainerID, Digest) is unique (Conflict).
	CreateImage(ctx context.Context, img *Image) error
	GetImage(ctx context.Context, id string) (Image, error)
	// GetImageByDigest finds the image with digest in a container.
	GetImageByDigest(ctx context.Context, containerID, digest string) (Image, error)
	// ListImages lists a container's images, oldest first.
	ListImages(ctx context.Context, containerID string) ([]Image, error)
	// ListImagesByDigest lists every image (in any container) with digest.
	ListImagesByDigest(ctx context.Context, digest string) ([]Image, error)
	// UpdateImage stores every mutable field (size, arch, description,
	// uploaded, metadata, manifest digest) and bumps UpdatedAt.
	UpdateImage(ctx context.Context, img *Image) error
	// DeleteImage removes an image with its tags and labels.
	DeleteImage(ctx context.Context, id string) error
	// EntityUsage is the total size of the uploaded images under an entity.
	EntityUsage(ctx context.Context, entityID string) (int64, error)
}

// LibraryTags stores per-architecture tags and SIF labels.
type LibraryTags interface {
	// SetLibraryTag creates or moves a tag.
	SetLibraryTag(ctx context.Context, t *LibraryTag) error
	GetLibraryTag(ctx context.Context, containerID, arch, tag string) (LibraryTag, error)
	// ListLibraryTags lists a container's tags ordered by tag, then arch.
	ListLibraryTags(ctx context.Context, containerID string) ([]LibraryTag, error)
	// SetLabels replaces an image's labels.
	SetLabels(ctx context.Context, imageID string, labels map[string]string) error
	GetLabels(ctx context.Context, imageID string) (map[string]string, error)
}

// LibrarySearch finds library objects whose name (or description)
// contains a text, case-insensitively. Callers filter by visibility: the
// store knows nothing of access rules. limit bounds each result list.
type LibrarySearch interface {
	SearchEntities(ctx context.Context, text string, limit int) ([]Entity, error)
	SearchCollections(ctx context.Context, text string, limit int) ([]CollectionHit, error)
	SearchContainers(ctx context.Context, text string, limit int) ([]ContainerHit, error)
	// SearchImages lists uploaded images whose container, collection or
	// entity name or description contains text; arches, when not empty,
	// keeps images of those architectures (and of unknown architecture).
	SearchImages(ctx context.Context, text string, arches []string, limit int) ([]ImageHit, error)
}

// Library stores library images, per-architecture tags and labels. It is
// split in three small interfaces by concern; sqlmeta implements all.
type Library interface {
	LibraryImages
	LibraryTags
	LibrarySearch
}
