// Package library is the library service: the Sylabs Library API's use
// cases (entities, collections, containers, images, tags, uploads,
// search) over the metadata and blob stores. The rules it shares with the
// OCI side (who may push, frozen containers, auto-created collections,
// privacy, the OCI view of every image) are the bridge's; uploads are the
// upload service's. A write stores and verifies the blob first, then
// commits metadata in one transaction. "LA §n" cites
// docs/protocols/library-api.md.
package library

import (
	"context"
	"time"

	"github.com/silo-hpc/silo/internal/access"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/upload"
)

// Store is what the library needs of the metadata store.
type Store interface {
	bridge.Store
	meta.LibrarySearch
	meta.LibraryRecent
	grantStore
	GetUser(ctx context.Context, id string) (meta.User, error)
	// Signature policies and re-verification (signatures.go, verify.go).
	meta.SignaturePolicies
	meta.SIFSigners
	GetPGPKey(ctx context.Context, fingerprint string) (meta.PGPKey, error)
	meta.Transactor
}

// Ref is a resolved library container path.
type Ref = bridge.Ref

// Options tunes a Service; zero values take the defaults.
type Options struct {
	// PartSize is the multipart upload part size (default 64 MiB, the
	// client's own threshold for multipart).
	PartSize int64
}

const (
	defaultPartSize = 64 << 20
	// DefaultEntity and DefaultCollection fill in short refs: "c" means
	// default/default/c and "k/c" means default/k/c (LA §10).
	DefaultEntity     = "default"
	DefaultCollection = "default"
)

// Service implements the Library API's use cases.
type Service struct {
	meta     Store
	blobs    blob.Store
	bridge   *bridge.Bridge
	access   access.Checker
	uploads  *upload.Service
	partSize int64
	now      func() time.Time
}

// New returns a library service over the stores.
func New(ms Store, bs blob.Store, br *bridge.Bridge, uploads *upload.Service, opts Options) *Service {
	s := &Service{meta: ms, blobs: bs, bridge: br, access: br.Access(), uploads: uploads, partSize: opts.PartSize,
		now: func() time.Time { return time.Now().UTC() }}
	if s.partSize <= 0 {
		s.partSize = defaultPartSize
	}
	return s
}

// tx runs fn in one read-write transaction.
func (s *Service) tx(ctx context.Context, fn func(tx Store) error) error {
	return meta.Tx(ctx, s.meta, fn)
}

// view runs fn in one read-only transaction.
func (s *Service) view(ctx context.Context, fn func(tx Store) error) error {
	return meta.View(ctx, s.meta, fn)
}

// HashOf shows an image digest the Library API way, "sha256.<hex>".
func HashOf(d string) string { return bridge.HashOf(d) }

// ImageMeta decodes an image's metadata; bad JSON reads as empty.
func ImageMeta(img meta.Image) (signed, encrypted bool, fingerprints []string) {
	m := bridge.MetaOf(img)
	return m.Signed, m.Encrypted, m.Fingerprints
}
