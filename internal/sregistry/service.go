// Package sregistry is the service behind Singularity Registry Server's
// API: what `singularity pull shub://` and sregistry-cli's registry
// backend need (docs/protocols/sregistry-api.md, cited as SR §n), over the
// one store. It holds what only this protocol has: its names
// (collection/container:tag, mapped onto entity/collection/container),
// its SREGISTRY-HMAC-SHA256 signatures, one-time push permits and
// capability download URLs. Everything else is the existing services':
// reads, tag resolution, privacy and deletes are the library service's;
// the push rules, the frozen rule and SIF inspection the bridge's;
// upload sessions the upload service's. docs/sregistry.md describes the
// mapping and the security model.
package sregistry

import (
	"crypto/hmac"
	"crypto/sha256"
	"time"

	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/library"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/upload"
)

// Store is what the service reads and writes: the bridge's part of the
// store (for pushes, in one transaction) and its own lookups.
type Store interface {
	bridge.Store
	meta.SRegistry
	meta.Transactor
}

// Config configures the service.
type Config struct {
	// Key is the server's secret (the registry token signing key, which
	// replicas share). Client keys and download capabilities are derived
	// from it, so none of them is stored.
	Key []byte
	// DefaultEntity, when set, is the entity of every bare name
	// (/api/...): bare names then never depend on what else exists.
	DefaultEntity string
	// Now is the clock (tests); UTC.
	Now func() time.Time
}

// Service implements the sregistry use cases.
type Service struct {
	meta    Store
	blobs   blob.Store
	auth    *auth.Service
	lib     *library.Service
	bridge  *bridge.Bridge
	uploads *upload.Service
	cfg     Config
	// key is this service's own key, derived from Config.Key so that it
	// never signs what the registry token service signs.
	key []byte
}

// New returns the service.
func New(ms Store, bs blob.Store, authSvc *auth.Service, lib *library.Service, br *bridge.Bridge, uploads *upload.Service, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Now().UTC() }
	}
	m := hmac.New(sha256.New, cfg.Key)
	m.Write([]byte("silo sregistry v1"))
	return &Service{meta: ms, blobs: bs, auth: authSvc, lib: lib, bridge: br, uploads: uploads, cfg: cfg, key: m.Sum(nil)}
}

// Name is a name as a request gives it. Entity is "" for the bare forms
// (/api/...), the path prefix for /<entity>/api/...; the rest are
// sregistry's collection/container:tag.
type Name struct {
	Entity, Collection, Container, Tag string
}

// mac is HMAC-SHA256 under the service's key of the parts, each ended by
// a zero byte so no two part lists run together.
func (s *Service) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}
