// Package registry is Silo's OCI registry service: the rules of who may
// pull and push which repository, and the coordination of the blob store
// with the metadata store behind every OCI Distribution request. The
// ociapi transport parses and encodes; this package decides.
//
// A repository named entity/collection/container is the library container
// of that path: its rules (owner, frozen, auto-created collections,
// privacy) are the library service's, asked through Library. Names of other
// depths are plain repositories governed by the namespace rule in
// access.go (docs/oci.md).
package registry

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/silo-hpc/silo/internal/access"
	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
)

// Config is the registry's part of the server configuration.
type Config struct {
	// SigningKey signs registry bearer tokens (HS256); replicas share it.
	SigningKey []byte
	// TokenTTL is the lifetime of access tokens (at least a minute).
	TokenTTL time.Duration
	// DefaultPrivate is the privacy of plain repositories created by a push.
	DefaultPrivate bool
}

// Service is the OCI registry service.
type Service struct {
	meta   meta.Store
	blobs  blob.Store
	auth   *auth.Service
	access access.Checker
	cfg    Config
	lib    Library // nil: entity/collection/container names are plain
	now    func() time.Time
	// busy holds the ids of upload sessions a request is writing to.
	busy sync.Map
	// emptyJSON is set once the {} config blob of SIF artifacts is known
	// to be in the blob store.
	emptyJSON atomic.Bool
}

// New returns the registry service.
func New(ms meta.Store, bs blob.Store, authSvc *auth.Service, checker access.Checker, cfg Config) *Service {
	if cfg.TokenTTL < time.Minute {
		cfg.TokenTTL = time.Minute
	}
	return &Service{meta: ms, blobs: bs, auth: authSvc, access: checker, cfg: cfg,
		now: func() time.Time { return time.Now().UTC() }}
}

// Caller is who a request acts as and, for bearer tokens, what the token
// grants. A token never widens what the principal may do; it narrows it.
type Caller struct {
	auth.Principal
	// Token is set when the request carried a registry bearer token; Grants
	// then limit the request. Basic credentials and API tokens act with all
	// the principal's rights.
	Token  bool
	Grants []oci.Scope
}

// allows reports whether the caller's token (if any) covers action on the
// resource typ:name.
func (c Caller) allows(typ, name, action string) bool {
	if !c.Token {
		return true
	}
	for _, g := range c.Grants {
		if g.Type == typ && g.Name == name && g.Has(action) {
			return true
		}
	}
	return false
}

// errRollback ends a transaction used only to ask a question.
var errRollback = errors.New("registry: dry run")

// tx runs fn in one metadata transaction.
func (s *Service) tx(ctx context.Context, fn func(tx meta.Store) error) error {
	return s.meta.InTx(ctx, fn)
}

// notFound maps a store NotFound to the OCI code the context calls for and
// passes other errors through.
func notFound(err error, oc oci.ErrorCode, what string) error {
	if apperr.Is(err, apperr.NotFound) {
		return oci.WithCode(oc, apperr.Wrap(apperr.NotFound, err, "%s unknown", what))
	}
	return err
}
