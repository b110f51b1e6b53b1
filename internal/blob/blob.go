// Package blob defines Silo's content-addressed blob store: the contract
// every backend (filesystem, S3) implements and the blobtest suite checks.
//
// Blobs are repository-agnostic and addressed by digest (sha256; sha512
// accepted). Writes go through resumable upload sessions that hash while
// they write, so an upload may span many HTTP requests and many processes.
package blob

import (
	"context"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
)

// Info describes a committed blob.
type Info struct {
	Digest  digest.Digest
	Size    int64
	ModTime time.Time
}

// Store is the blob store contract. Errors use apperr codes: a missing
// blob or upload session is apperr.NotFound; a digest or size mismatch at
// commit is apperr.Invalid.
type Store interface {
	// Stat reports a committed blob.
	Stat(ctx context.Context, d digest.Digest) (Info, error)
	// Open returns a reader over a committed blob; it supports Seek so
	// transports can serve ranges (http.ServeContent).
	Open(ctx context.Context, d digest.Digest) (io.ReadSeekCloser, Info, error)
	// Delete removes a committed blob. Deleting a missing blob is NotFound.
	Delete(ctx context.Context, d digest.Digest) error
	// Walk calls fn for each committed blob, in no particular order.
	Walk(ctx context.Context, fn func(Info) error) error
	// NewUpload starts an upload session that hashes with alg (sha256 when
	// empty).
	NewUpload(ctx context.Context, alg digest.Algorithm) (Writer, error)
	// ResumeUpload reopens a session written earlier, possibly by another
	// process or replica, positioned at the end of state: what the
	// session's Writer.State returned after its last Close. The caller
	// keeps that state (internal/upload keeps it in the metadata database,
	// in the write that also records the session's offset), so the state
	// and the offset a client is told always agree. A backend that keeps
	// state of its own may accept a nil state.
	ResumeUpload(ctx context.Context, id string, state []byte) (Writer, error)
	// AbortUpload discards a session and everything it wrote; state is
	// its last saved state (nil when it was never closed).
	AbortUpload(ctx context.Context, id string, state []byte) error
	// Ping checks the backend is reachable and writable.
	Ping(ctx context.Context) error
}

// Writer appends to an upload session. Close persists the session (data and
// hash state) so ResumeUpload can continue it; Commit verifies and publishes
// the blob atomically; Cancel discards it. After Close, Commit or Cancel the
// Writer must not be used.
type Writer interface {
	io.Writer
	// ID names the session for ResumeUpload.
	ID() string
	// Size is the number of bytes written so far, across all requests.
	Size() int64
	// Close flushes data and hash state, keeping the session for later.
	// After a failed write or Close, Size and State describe what the
	// session durably holds (possibly less than was written).
	Close() error
	// State is the session's state after Close (JSON): what ResumeUpload
	// and AbortUpload take.
	State() []byte
	// Commit verifies the content against expected (digest; any supported
	// algorithm) and, when size >= 0, its size; then stores it under its
	// digest and removes the session. A mismatch returns apperr.Invalid and
	// removes the session; nothing becomes visible. Committing a digest that
	// already exists succeeds and keeps one copy.
	Commit(ctx context.Context, expected digest.Digest, size int64) (Info, error)
	// Cancel discards the session.
	Cancel(ctx context.Context) error
}

// Expecter is an optional Writer capability: Expect, called before the
// first Write, announces the digest the content will be committed under
// (when the client names it up front: a monolithic push, a Library
// upload). A backend may then write straight to where that blob lives
// (S3: no copy at commit). Committing such a session under another digest
// is apperr.Invalid.
type Expecter interface {
	Expect(d digest.Digest)
}

// Located is an optional capability of a reader Store.Open returns: the
// blob may be fetched straight from Location (an S3 URL presigned for a
// public endpoint). Transports then redirect the client there instead of
// streaming the bytes through the server.
type Located interface {
	Location() string
}
