package meta

import (
	"context"
	"time"
)

// Blob row states in the garbage collector's protocol (docs/gc.md).
const (
	// BlobLive: the blob may be stored, linked and referenced.
	BlobLive = "live"
	// BlobDeleting: the collector claimed it and is removing its bytes;
	// nothing may rely on it until it is gone.
	BlobDeleting = "deleting"
	// BlobGone: a tombstone. The bytes were removed; only a new upload
	// (PinBlob) brings the blob back.
	BlobGone = "gone"
)

// BlobPins are what an upload does around storing a blob: pin the row
// before the bytes are written, confirm it in the transaction that
// records the upload.
type BlobPins interface {
	// PinBlob makes digest's row live and touched before its bytes are
	// stored: a new row, a touched live one, or a tombstone brought back
	// (with a new generation). It returns the row's generation, which
	// ConfirmBlob checks. While the collector deletes the blob it fails
	// with apperr.Unavailable (a claim left by a collector that died is
	// taken over).
	PinBlob(ctx context.Context, digest string) (gen int64, err error)
	// ConfirmBlob records the size of a blob just stored and touches it,
	// if its row is still the live one of generation gen; otherwise the
	// collector removed it meanwhile and the error is apperr.Unavailable
	// (the client retries the upload).
	ConfirmBlob(ctx context.Context, digest string, size, gen int64) error
}

// Link is a blob linked to a repository.
type Link struct {
	RepositoryID string
	Digest       string
	Size         int64
}

// BlobCollection is what the garbage collector asks of the store. A blob
// is collectable when its row is live, untouched since before a cutoff,
// and no uploaded image, no manifest and no link made or touched since
// the cutoff refers to it (older links die with the blob).
type BlobCollection interface {
	// ListCollectable lists up to limit collectable blobs with digests
	// after the given one, in digest order.
	ListCollectable(ctx context.Context, before time.Time, after string, limit int) ([]BlobRecord, error)
	// MarkBlobDeleting claims a blob for deletion if it is still
	// collectable, re-checking in the one statement that claims it.
	MarkBlobDeleting(ctx context.Context, digest string, before time.Time) (bool, error)
	// MarkBlobGone turns a claimed blob into a tombstone, removing its
	// links and what was read from it.
	MarkBlobGone(ctx context.Context, digest string) error
	// ListDeletingBlobs lists blobs claimed for deletion (by a collector
	// that died before finishing, when no collector runs).
	ListDeletingBlobs(ctx context.Context) ([]BlobRecord, error)
	// BlobStates returns the state of each digest that has a row.
	BlobStates(ctx context.Context, digests []string) (map[string]string, error)
	// ClaimOrphan claims a blob found in the blob store with no row (or
	// a tombstone): true when it is now claimed for deletion.
	ClaimOrphan(ctx context.Context, digest string, size int64) (bool, error)
	// StaleLinks lists up to limit links made or touched before the
	// cutoff that nothing in their repository refers to (no manifest, no
	// uploaded image of its container), after the given link.
	StaleLinks(ctx context.Context, before time.Time, after Link, limit int) ([]Link, error)
	// DropStaleLink removes a link if it is still stale.
	DropStaleLink(ctx context.Context, l Link, before time.Time) (bool, error)
	// PurgeTombstones deletes tombstones untouched since before: only an
	// upload (PinBlob) brings a collected blob back, so an old tombstone
	// has nothing left to guard.
	PurgeTombstones(ctx context.Context, before time.Time) (int, error)
	// LockCollector takes the lock that lets one collector run at a time
	// across every replica; ok is false when another holds it.
	LockCollector(ctx context.Context) (unlock func(), ok bool, err error)
}
