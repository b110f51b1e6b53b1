package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/access"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/bearer"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/config"
	"github.com/silo-hpc/silo/internal/gc"
	"github.com/silo-hpc/silo/internal/library"
	"github.com/silo-hpc/silo/internal/logctx"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
	"github.com/silo-hpc/silo/internal/pgpkeys"
	"github.com/silo-hpc/silo/internal/quota"
	"github.com/silo-hpc/silo/internal/registry"
	"github.com/silo-hpc/silo/internal/settings"
	"github.com/silo-hpc/silo/internal/sregistry"
	"github.com/silo-hpc/silo/internal/upload"
)

// Services is Silo's service graph over its stores. Open builds it, the
// one composition root: `silo serve`, the admin commands and the test
// server all use it, so every one of them applies the same rules.
type Services struct {
	Config   config.Config
	Log      *slog.Logger
	Meta     meta.Store
	Blobs    blob.Store
	Auth     *auth.Service
	Uploads  *upload.Service
	Bridge   *bridge.Bridge
	Library  *library.Service
	Registry *registry.Service
	Tokens   *bearer.Service
	GC       *gc.Service
	// Collector removes blobs nothing references; BlobGC runs it on the
	// configured schedule.
	Collector *gc.Collector
	BlobGC    *gc.Service
	// Quota sets and shows quotas by name (internal/quota holds the rule
	// every push applies).
	Quota *quota.Service
	// SRegistry is Singularity Registry Server's API (shub://, sregistry-cli).
	SRegistry *sregistry.Service
	// Keys is the keyserver (HKP); the bridge verifies signatures with
	// its keys.
	Keys *pgpkeys.Service
	// keysChanged wakes the re-verification of signed images (keys.go).
	keysChanged chan struct{}
	// Settings are the live settings the web UI and the account API edit.
	Settings *settings.Service
}

// Open opens the stores cfg selects, loads (or creates) the token signing
// key and composes the services.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger) (*Services, error) {
	// The stores log through the context: a migration of a large
	// database says what it is doing while the server is not yet ready.
	ms, bs, err := OpenStores(logctx.With(ctx, log), cfg)
	if err != nil {
		return nil, err
	}
	key, err := SigningKey(cfg)
	if err != nil {
		ms.Close()
		return nil, fmt.Errorf("token signing key: %w", err)
	}
	svc := Compose(cfg, log, ms, bs, key)
	if err := svc.Bridge.Prepare(ctx); err != nil {
		ms.Close()
		return nil, fmt.Errorf("blob store: %w", err)
	}
	return svc, nil
}

// Compose builds the services over open stores: stores, then services,
// each given what it uses.
func Compose(cfg config.Config, log *slog.Logger, ms meta.Store, bs blob.Store, signingKey []byte) *Services {
	rules := access.Checker{Policy: access.Policy{
		UserCollections: cfg.Library.UserCollections, DefaultPrivate: cfg.Library.DefaultPrivate}}
	s := &Services{Config: cfg, Log: log, Meta: ms, Blobs: bs, Auth: auth.New(ms)}
	s.Uploads = upload.New(ms, bs, log, upload.Config{IdleTimeout: time.Duration(cfg.Uploads.IdleTimeout),
		Lease: time.Duration(cfg.Uploads.Lease)})
	s.Bridge = bridge.New(bs, rules)
	s.keysChanged = make(chan struct{}, 1)
	s.Keys = pgpkeys.New(ms, pgpkeys.Config{Changed: s.wakeReverify})
	s.Bridge.UseKeys(s.Keys)
	s.Library = library.New(ms, bs, s.Bridge, s.Uploads, library.Options{})
	s.Registry = registry.New(ms, bs, s.Uploads, s.Bridge, registry.Config{})
	s.Tokens = bearer.New(s.Auth, s.Registry, bearer.Config{SigningKey: signingKey, TokenTTL: time.Duration(cfg.Auth.TokenTTL)})
	s.GC = gc.New(log, gc.Job{Name: "upload sessions", Run: s.Uploads.Sweep},
		gc.Job{Name: "browser sessions", Run: s.Auth.SweepSessions})
	s.Collector = gc.NewCollector(ms, bs, log, gc.CollectorConfig{Grace: time.Duration(cfg.GC.Grace),
		Keep: []digest.Digest{oci.EmptyJSONDigest}})
	s.BlobGC = gc.New(log, gc.Job{Name: "blobs", Run: s.Collector.Run})
	s.Quota = quota.NewService(ms, rules)
	s.SRegistry = sregistry.New(ms, bs, s.Auth, s.Library, s.Bridge, s.Uploads,
		sregistry.Config{Key: signingKey, DefaultEntity: cfg.SRegistry.DefaultEntity})
	s.Settings = settings.New(ms, rules.Policy)
	return s
}

// Close releases the stores.
func (s *Services) Close() error {
	return errors.Join(s.Meta.Close())
}
