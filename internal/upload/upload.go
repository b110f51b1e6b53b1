// Package upload is the one implementation of upload sessions, for every
// protocol: OCI blob uploads (chunked, streamed, monolithic) and Library
// API uploads (single-part and multipart). A session is a metadata row
// (meta.Upload) plus a blob-store session that hashes while it writes; the
// service starts sessions, appends at an expected offset, commits with a
// size and digest check, aborts, expires and sweeps them.
//
// One writer per session, across replicas: every request that writes
// first takes the session's lease in the database (meta ClaimUpload) and
// gives it back with the new state in one compare-and-swap
// (ReleaseUpload). A second request, on any replica, gets
// apperr.Unavailable before it reads a byte, so two requests can never
// interleave one session's data (docs/architecture.md, "Uploads").
package upload

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/meta"
)

// Store is what sessions need of the metadata store.
type Store interface {
	meta.Uploads
	meta.BlobPins
	meta.Transactor
}

// Config tunes the service; zero values take the defaults.
type Config struct {
	// IdleTimeout ends a session no request has touched for this long
	// (default 24 h). Every accepted request renews it; an expired session
	// is gone, whatever a client sends afterwards.
	IdleTimeout time.Duration
	// Lease bounds how long a crashed request can keep a session busy
	// (default 2 min); live requests renew it while they stream.
	Lease time.Duration
	// OrphanAge is how long a blob-store session no row knows of is kept
	// (default 48 h): only a crash between creating one and recording it
	// leaves such a session.
	OrphanAge time.Duration
	// Now is the clock (tests).
	Now func() time.Time
}

// Service runs upload sessions over the metadata and blob stores.
type Service struct {
	meta  Store
	blobs blob.Store
	cfg   Config
	log   *slog.Logger
}

// New returns the upload service.
func New(ms Store, bs blob.Store, log *slog.Logger, cfg Config) *Service {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 24 * time.Hour
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.OrphanAge <= 0 {
		cfg.OrphanAge = 48 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Now().UTC() }
	}
	return &Service{meta: ms, blobs: bs, cfg: cfg, log: log}
}

// Session is an upload session as its owner sees it.
type Session struct {
	ID     string
	Kind   string // the owner's name for its sessions: "oci", "library", ...
	Target string // what the upload is for (a repository name, an image id)
	UserID string
	// Offset is how many bytes the session holds.
	Offset    int64
	Algorithm digest.Algorithm
	// Data is the owner's own state (library part lists, ...), saved with
	// the offset in one write.
	Data      json.RawMessage
	ExpiresAt time.Time
	blobID    string
	// blobState is the blob-store session's own state (Writer.State),
	// saved in the same write as Offset so the two always agree, on
	// every replica.
	blobState json.RawMessage
	// expect is the digest the content is announced to have (Expect).
	expect digest.Digest
	// within, when set, replaces the idle timeout until the first write
	// (Within).
	within time.Duration
}

// state is the JSON of a session row.
type state struct {
	Offset    int64            `json:"offset"`
	Algorithm digest.Algorithm `json:"algorithm,omitempty"`
	Data      json.RawMessage  `json:"data,omitempty"`
	Blob      json.RawMessage  `json:"blob,omitempty"`
	Expect    digest.Digest    `json:"expect,omitempty"`
}

// Option adjusts a session at Start.
type Option func(*Session)

// Within makes a session that no request has touched yet end after d
// rather than the configured idle timeout (the sweep then removes it);
// the first request that brings bytes renews it as any other. For
// sessions that must be used soon or not at all (sregistry's one-time
// push permits).
func Within(d time.Duration) Option {
	return func(s *Session) { s.within = d }
}

// Expect announces the digest the session's content will be committed
// under, when the client names it up front (a Library upload): the blob
// store may then write straight to where that blob lives.
func Expect(d digest.Digest) Option {
	return func(s *Session) { s.expect = d }
}

// Unknown is the one answer for a session that does not exist, expired,
// belongs to another owner or target, or ended.
func Unknown() error {
	return apperr.E(apperr.NotFound, apperr.Upload, "upload session unknown: it does not exist, expired or already ended")
}

// Start records a new session; no bytes, and no blob-store session, exist
// until the first request that brings some. data is the owner's initial
// state (nil for none).
func (s *Service) Start(ctx context.Context, kind, target, userID string, alg digest.Algorithm, data any, opts ...Option) (Session, error) {
	if alg == "" {
		alg = digest.SHA256
	}
	sess := Session{ID: newID(), Kind: kind, Target: target, UserID: userID, Algorithm: alg}
	for _, o := range opts {
		o(&sess)
	}
	ttl := s.cfg.IdleTimeout
	if sess.within > 0 {
		ttl = sess.within
	}
	sess.ExpiresAt = s.cfg.Now().Add(ttl)
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return Session{}, apperr.Wrap(apperr.Internal, err, "encoding upload state")
		}
		sess.Data = b
	}
	row := meta.Upload{ID: sess.ID, Kind: kind, Target: target, UserID: userID, ExpiresAt: sess.ExpiresAt,
		State: encode(sess)}
	return sess, s.meta.CreateUpload(ctx, &row)
}

// Get returns a live session of kind.
func (s *Service) Get(ctx context.Context, id, kind string) (Session, error) {
	row, err := s.meta.GetUpload(ctx, id)
	if apperr.Is(err, apperr.NotFound) {
		return Session{}, Unknown()
	}
	if err != nil {
		return Session{}, err
	}
	return s.live(row, kind)
}

// List returns the live sessions of kind for target, newest first.
func (s *Service) List(ctx context.Context, kind, target string) ([]Session, error) {
	rows, err := s.meta.ListUploadsFor(ctx, kind, target)
	if err != nil {
		return nil, err
	}
	var out []Session
	for _, row := range rows {
		if sess, err := s.live(row, kind); err == nil {
			out = append(out, sess)
		}
	}
	return out, nil
}

// live decodes a row that must be of kind and not expired.
func (s *Service) live(row meta.Upload, kind string) (Session, error) {
	if row.Kind != kind || !row.ExpiresAt.After(s.cfg.Now()) {
		return Session{}, Unknown()
	}
	var st state
	if err := json.Unmarshal([]byte(row.State), &st); err != nil {
		return Session{}, apperr.Wrap(apperr.Internal, err, "corrupt upload state")
	}
	return Session{ID: row.ID, Kind: row.Kind, Target: row.Target, UserID: row.UserID, Offset: st.Offset,
		Algorithm: st.Algorithm, Data: st.Data, ExpiresAt: row.ExpiresAt, blobID: row.BlobUploadID,
		blobState: st.Blob, expect: st.Expect}, nil
}

func encode(sess Session) string {
	b, _ := json.Marshal(state{Offset: sess.Offset, Algorithm: sess.Algorithm, Data: sess.Data,
		Blob: sess.blobState, Expect: sess.expect})
	return string(b)
}

// blobStateOf reads the blob-store state from a row (nil when the row
// cannot be read: the blob store then cleans up what it can by id).
func blobStateOf(row meta.Upload) []byte {
	var st state
	if json.Unmarshal([]byte(row.State), &st) != nil {
		return nil
	}
	return st.Blob
}

// newID returns a 256-bit random session id: Library upload URLs carry it
// as their only credential.
func newID() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// copyBufSize is the read size for request bodies: large reads mean few
// write syscalls and hash calls per gigabyte.
const copyBufSize = 1 << 20

var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// copyBody streams body into w through a pooled buffer. A failed read (the
// client went away, or sent less than it announced) is Invalid; a failed
// write is the store's error.
func copyBody(w io.Writer, body io.Reader) (int64, error) {
	if body == nil {
		return 0, nil
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	n, err := io.CopyBuffer(w, body, *bp)
	if err != nil && !isStoreErr(err) {
		err = apperr.Wrap(apperr.Invalid, err, "reading the request body failed after %d bytes", n)
		err = apperr.About(apperr.Upload, err)
	}
	return n, err
}

// storeErr marks errors from the blob writer inside io.CopyBuffer.
type storeErr struct{ error }

func (e storeErr) Unwrap() error { return e.error }

func isStoreErr(err error) bool {
	var se storeErr
	return errors.As(err, &se)
}

// markedWriter tags the writer's errors so copyBody can tell them from the
// body's.
type markedWriter struct{ w io.Writer }

func (m markedWriter) Write(p []byte) (int, error) {
	n, err := m.w.Write(p)
	if err != nil {
		err = storeErr{err}
	}
	return n, err
}
