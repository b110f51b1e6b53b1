// Package registry is Silo's OCI registry service: the rules of who may
// pull and push which repository, and the coordination of the blob store
// with the metadata store behind every OCI Distribution request. The
// ociapi transport parses and encodes; this package decides, and answers
// in apperr classes and subjects only (ociapi alone picks OCI codes and
// challenges).
//
// A repository named entity/collection/container is the library container
// of that path: its rules (owner, frozen, auto-created collections,
// privacy) are the bridge's, the same ones the Library API applies. Names
// of other depths are plain repositories governed by the namespace rule
// in access.go (docs/oci.md).
package registry

import (
	"context"
	"time"

	"github.com/silo-hpc/silo/internal/bearer"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/upload"
)

// Store is what the registry needs of the metadata store.
type Store interface {
	bridge.Store
	meta.Transactor
}

// Config is the registry's part of the server configuration. (The
// privacy of plain repositories created by a push is the live policy's
// default_private: bridge.Rules.)
type Config struct{}

// Service is the OCI registry service.
type Service struct {
	meta    Store
	blobs   blob.Store
	uploads *upload.Service
	bridge  *bridge.Bridge
	cfg     Config
	now     func() time.Time
}

// New returns the registry service.
func New(ms Store, bs blob.Store, uploads *upload.Service, br *bridge.Bridge, cfg Config) *Service {
	return &Service{meta: ms, blobs: bs, uploads: uploads, bridge: br, cfg: cfg,
		now: func() time.Time { return time.Now().UTC() }}
}

// Caller is who a request acts as (the token service makes it).
type Caller = bearer.Caller

// tx runs fn in one read-write metadata transaction.
func (s *Service) tx(ctx context.Context, fn func(tx Store) error) error {
	return meta.Tx(ctx, s.meta, fn)
}

// view runs fn in one read-only transaction.
func (s *Service) view(ctx context.Context, fn func(tx Store) error) error {
	return meta.View(ctx, s.meta, fn)
}
