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
	// Downloads counts the image's downloads (CountDownload); searches
	// leave it 0.
	Downloads int64
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

// ImageHit is an image search result with its parents and tags.
type ImageHit struct {
	Image      Image
	Container  Container
	Collection Collection
	Entity     Entity
	// Tags are the container's tags naming this image, ordered by tag,
	// then arch.
	Tags []string
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
	// CountDownload adds one to an image's download count.
	CountDownload(ctx context.Context, id string) error
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
	// DeleteLibraryTag removes one tag of one architecture.
	DeleteLibraryTag(ctx context.Context, containerID, arch, tag string) error
	// SetLabels replaces an image's labels.
	SetLabels(ctx context.Context, imageID string, labels map[string]string) error
	GetLabels(ctx context.Context, imageID string) (map[string]string, error)
}

// SearchQuery is one library search.
type SearchQuery struct {
	// Text is found as a substring of names and descriptions,
	// case-insensitively; LIKE wildcards in it are literal. A text
	// holding U+0001 matches nothing.
	Text string
	// Viewer is who searches: collections it may not read, and what is
	// in them, are left out.
	Viewer Viewer
	// Arches, when not empty, keeps images of those architectures and of
	// unknown architecture (SearchImages only).
	Arches []string
	// Signed keeps only images whose Metadata has "verified": true, whose
	// signatures verify against keys Silo holds (SearchImages only).
	Signed bool
	// LabelKey, when set, keeps only images carrying that label, with
	// the value LabelValue when that is set too (SearchImages only). With
	// a label, Text may be empty: every image carrying it is a hit.
	LabelKey, LabelValue string
	// Limit (0: no limit) and Offset page each kind's results, which
	// come newest first: in the reverse of the order the store created
	// them (renames keep their place), a total order.
	Limit, Offset int
}

// Viewer is the caller as the store sees it for privacy. The zero Viewer
// is anonymous.
type Viewer struct {
	UserID string
	Admin  bool
}

// LibrarySearch finds library objects whose name or description contains
// a text, and leaves out what the viewer may not see: a private
// collection, its containers and images are found only by its owner,
// admins and members of teams granted the collection (the rule of
// access.Checker.CanReadCollection). Entities are visible to everyone.
type LibrarySearch interface {
	// SearchEntities finds entities by name or description, newest
	// first.
	SearchEntities(ctx context.Context, q SearchQuery) ([]Entity, error)
	// SearchCollections finds collections by name or description,
	// newest first.
	SearchCollections(ctx context.Context, q SearchQuery) ([]CollectionHit, error)
	// SearchContainers finds containers by name or description, newest
	// first.
	SearchContainers(ctx context.Context, q SearchQuery) ([]ContainerHit, error)
	// SearchImages finds uploaded images whose path
	// (entity/collection/container), container description or own
	// description contains the text, newest first.
	SearchImages(ctx context.Context, q SearchQuery) ([]ImageHit, error)
	// FindContainers lists the containers q names, ordered by entity,
	// collection and container name.
	FindContainers(ctx context.Context, q ContainerQuery) ([]ContainerHit, error)
}

// ContainerQuery finds containers by the exact names of their entity,
// collection and container; "" matches any. Containers in collections the
// viewer may not read are left out. Limit (0: no limit) and Offset page
// the result.
type ContainerQuery struct {
	Entity, Collection, Container string
	Viewer                        Viewer
	Limit, Offset                 int
}

// Library stores library images, per-architecture tags and labels. It is
// split in small interfaces by concern; sqlmeta implements all.
type Library interface {
	LibraryImages
	LibraryTags
	LibrarySearch
	LibraryRecent
	SIFMetadata
}

// LibraryRecent lists what was pushed last.
type LibraryRecent interface {
	// RecentImages lists up to limit uploaded images the viewer may
	// read (the rule of LibrarySearch), most recently updated first,
	// with their parents and tags.
	RecentImages(ctx context.Context, v Viewer, limit int) ([]ImageHit, error)
}

// Inspection is what was read from a SIF blob (internal/sifinspect's JSON),
// stored once per content digest and shared by every image with that
// content.
type Inspection struct {
	Digest string
	// Version is the inspector's version: an older inspection is redone.
	Version   int
	JSON      string
	CreatedAt time.Time
}

// LabelRow is one label and a container whose image carries it.
type LabelRow struct {
	Key, Value string
	Container  ContainerHit
}

// LabelQuery filters label listings; Key and Value "" match any.
type LabelQuery struct {
	Key, Value string
	// Fold matches Key and Value ignoring case (the database's lower():
	// ASCII letters on SQLite), for sregistry's clients, which lowercase
	// what they ask (docs/sregistry.md, Limits).
	Fold   bool
	Viewer Viewer
	Limit  int
	Offset int
}

// SIFMetadata stores what was read from SIF images.
type SIFMetadata interface {
	// PutInspection stores (or replaces) the inspection of a digest.
	PutInspection(ctx context.Context, in *Inspection) error
	GetInspection(ctx context.Context, digest string) (Inspection, error)
	// ListUninspected lists digests of uploaded images with no inspection
	// of at least version, in order, after the digest after ("" from the
	// start), up to limit.
	ListUninspected(ctx context.Context, version int, after string, limit int) ([]string, error)
	// ListLabels lists labels with the containers whose images carry them,
	// leaving out what the viewer may not read; ordered by key, value and
	// container path.
	ListLabels(ctx context.Context, q LabelQuery) ([]LabelRow, error)
}
