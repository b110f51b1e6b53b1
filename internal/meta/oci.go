package meta

import (
	"context"
	"time"
)

// Repository is an OCI repository. One named entity/collection/container
// is the library container (ContainerID set); privacy then comes from the
// collection and Private is unused. Other names are plain repositories
// whose owner and privacy are their own.
type Repository struct {
	ID          string
	Name        string
	ContainerID string // "" for plain repositories
	OwnerID     string
	Private     bool
	CreatedAt   time.Time
}

// BlobRecord is a committed blob the registry knows of.
type BlobRecord struct {
	Digest    string
	Size      int64
	CreatedAt time.Time
}

// Manifest is a manifest or index stored byte-exact under its digest.
// Content is empty when listed (ListReferrers, ListManifests).
type Manifest struct {
	RepositoryID    string
	Digest          string
	MediaType       string
	Size            int64
	Content         []byte
	ArtifactType    string // the manifest's own artifactType
	ConfigMediaType string // config.mediaType of an image manifest
	Subject         string // digest of the subject, "" when none
	Annotations     string // top-level annotations as JSON, "" when none
	CreatedAt       time.Time
}

// Tag points a name in a repository at a manifest.
type Tag struct {
	RepositoryID string
	Name         string
	Digest       string
	UpdatedAt    time.Time
}

// ManifestLookup is what a manifest GET needs, read in one query: the
// repository by name, the privacy of its library collection when it is a
// library container (Collection.ID "" otherwise), and the manifest a tag
// or digest names (Found false when there is none).
type ManifestLookup struct {
	Repository Repository
	Collection Collection
	Manifest   Manifest
	Found      bool
}

// OCI stores OCI repositories, manifests, tags, referrers and blob records.
// Missing rows are apperr.NotFound. Writes that repeat existing content
// (the same blob, link, manifest or tag) succeed, because clients retry.
type OCI interface {
	CreateRepository(ctx context.Context, r *Repository) error
	GetRepository(ctx context.Context, name string) (Repository, error)
	GetRepositoryByContainer(ctx context.Context, containerID string) (Repository, error)
	// ListRepositories returns up to n repositories named after last, in
	// byte order of their names.
	ListRepositories(ctx context.Context, last string, n int) ([]Repository, error)
	UpdateRepository(ctx context.Context, r *Repository) error

	// PutBlob records a committed blob, or touches its row (idempotent).
	// A blob the garbage collector removed is NotFound (its row is a
	// tombstone only a new upload revives, BlobPins); one it is removing
	// is Unavailable.
	PutBlob(ctx context.Context, digest string, size int64) error
	// LinkBlob lets repository repoID serve a recorded blob (idempotent).
	LinkBlob(ctx context.Context, repoID, digest string) error
	// GetRepositoryBlob returns a live blob linked to repoID.
	GetRepositoryBlob(ctx context.Context, repoID, digest string) (BlobRecord, error)
	// TouchRepositoryBlob is GetRepositoryBlob for a request that is about
	// to reference the blob: it touches the blob's row and the link, so
	// the garbage collector leaves both alone (docs/gc.md).
	TouchRepositoryBlob(ctx context.Context, repoID, digest string) (BlobRecord, error)
	UnlinkBlob(ctx context.Context, repoID, digest string) error

	// PutManifest stores m and the digests it references; storing the same
	// digest again keeps the first copy (the content is the same).
	PutManifest(ctx context.Context, m *Manifest, refs []string) error
	GetManifest(ctx context.Context, repoID, digest string) (Manifest, error)
	// LookupManifest reads a repository by name and the manifest tag (or,
	// with tag "", digest) names in it, in one query: the hot path of
	// pulls. A missing repository is NotFound; a missing manifest is not
	// an error (Found false).
	LookupManifest(ctx context.Context, name, tag, digest string) (ManifestLookup, error)
	// DeleteManifest removes a manifest, its references and the tags
	// pointing at it.
	DeleteManifest(ctx context.Context, repoID, digest string) error
	// ListReferrers lists the manifests in repoID whose subject is digest,
	// without content.
	ListReferrers(ctx context.Context, repoID, subject string) ([]Manifest, error)

	// PutTag creates or moves a tag; the manifest must exist.
	PutTag(ctx context.Context, t *Tag) error
	GetTag(ctx context.Context, repoID, name string) (Tag, error)
	// ListTags returns up to n tags named after last, in byte order.
	ListTags(ctx context.Context, repoID, last string, n int) ([]Tag, error)
	// ListTagsFor lists the tags pointing at digest.
	ListTagsFor(ctx context.Context, repoID, digest string) ([]Tag, error)
	DeleteTag(ctx context.Context, repoID, name string) error
}
