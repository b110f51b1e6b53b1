// Package pgpkeys is the keyserver's service: the OpenPGP public keys Silo
// holds, which `singularity key push/search/pull` and `verify` reach over
// HKP (internal/keyserver) and against which the bridge verifies the
// signatures of pushed images. A key belongs to the user who added it:
// only they replace it, they or an admin remove it. Keys are parsed with
// ProtonMail/go-crypto within fixed limits (Limits). docs/keyserver.md.
package pgpkeys

import (
	"context"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/logctx"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/sifverify"
)

// Store is the part of the metadata store the keyserver uses.
type Store interface {
	meta.PGPKeys
	GetUserByName(ctx context.Context, name string) (meta.User, error)
	meta.Transactor
}

// Config configures the service.
type Config struct {
	Limits Limits
	// MaxKeysPerUser bounds how many keys one user may hold (default 64).
	MaxKeysPerUser int
	// Now is the clock (expiry and revocation); time.Now by default.
	Now func() time.Time
	// Changed, when set, is called after keys were added, replaced or
	// removed (the server then checks again the images they signed).
	Changed func()
}

// Service is the keyserver.
type Service struct {
	meta Store
	cfg  Config
}

// New returns the keyserver service.
func New(st Store, cfg Config) *Service {
	cfg.Limits = cfg.Limits.withDefaults()
	if cfg.MaxKeysPerUser <= 0 {
		cfg.MaxKeysPerUser = 64
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{meta: st, cfg: cfg}
}

// Added is what Add did with one key.
type Added struct {
	Key meta.PGPKey
	// Replaced: the key was held before (by the same user) and its new
	// copy replaced it. Unchanged: the copy held is the same.
	Replaced, Unchanged bool
}

// Add stores the keys of an armored public keyring (HKP's keytext) for
// p: all of them or, on any refusal, none. A key new to the server
// becomes p's; p's own key is replaced by its new copy, unless the copy
// drops a revocation the server holds; someone else's key is refused
// unless the copy is the same as the one held.
func (s *Service) Add(ctx context.Context, p auth.Principal, text string) ([]Added, error) {
	if p.Anonymous() {
		return nil, apperr.New(apperr.Unauthenticated, "authentication required to add keys: log in with a token")
	}
	keys, err := parse(text, s.cfg.Limits, s.cfg.Now())
	if err != nil {
		return nil, err
	}
	var out []Added
	err = meta.Tx(ctx, s.meta, func(tx Store) error {
		out = out[:0]
		for _, k := range keys {
			a, err := s.put(ctx, tx, p, k)
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return s.checkCount(ctx, tx, p)
	})
	if err != nil {
		return nil, err
	}
	changed := false
	for _, a := range out {
		logctx.From(ctx).Info("key added", "fingerprint", a.Key.Fingerprint, "user", p.Name, "replaced", a.Replaced, "unchanged", a.Unchanged)
		changed = changed || !a.Unchanged
	}
	// The same copy again changes no key and no generation: nothing to
	// check again.
	if changed {
		s.changed()
	}
	return out, nil
}

// put stores one parsed key for p inside tx.
func (s *Service) put(ctx context.Context, tx Store, p auth.Principal, k meta.PGPKey) (Added, error) {
	old, err := tx.GetPGPKey(ctx, k.Fingerprint)
	switch {
	case apperr.Is(err, apperr.NotFound):
		k.OwnerID, k.OwnerName = p.UserID, p.Name
		return Added{Key: k}, tx.PutPGPKey(ctx, &k)
	case err != nil:
		return Added{}, err
	case old.Armored == k.Armored:
		return Added{Key: old, Unchanged: true}, nil
	case old.OwnerID != p.UserID:
		return Added{}, apperr.New(apperr.Denied, "permission denied: key %s was added by another user; only they may replace it", k.Fingerprint)
	case old.Revoked && !k.Revoked:
		return Added{}, apperr.New(apperr.Conflict, "key %s is revoked here; a copy without its revocation cannot replace it", k.Fingerprint)
	}
	k.OwnerID, k.OwnerName, k.AddedAt = old.OwnerID, old.OwnerName, old.AddedAt
	return Added{Key: k, Replaced: true}, tx.PutPGPKey(ctx, &k)
}

// checkCount refuses a submission that leaves p with too many keys.
func (s *Service) checkCount(ctx context.Context, tx Store, p auth.Principal) error {
	held, err := tx.ListPGPKeys(ctx, p.UserID)
	if err == nil && len(held) > s.cfg.MaxKeysPerUser {
		return apperr.New(apperr.Denied, "permission denied: a user may hold at most %d keys; remove some first", s.cfg.MaxKeysPerUser)
	}
	return err
}

// Remove removes a key: its owner or an admin may.
func (s *Service) Remove(ctx context.Context, p auth.Principal, fingerprint string) error {
	if p.Anonymous() {
		return apperr.New(apperr.Unauthenticated, "authentication required to remove keys: log in with a token")
	}
	fp, err := sifverify.ParseFingerprint(fingerprint)
	if err != nil {
		return apperr.New(apperr.Invalid, "%v", err)
	}
	err = meta.Tx(ctx, s.meta, func(tx Store) error {
		k, err := tx.GetPGPKey(ctx, fp)
		if apperr.Is(err, apperr.NotFound) {
			return apperr.New(apperr.NotFound, "no key with fingerprint %s", fp)
		}
		if err != nil {
			return err
		}
		if k.OwnerID != p.UserID && !p.IsAdmin() {
			return apperr.New(apperr.Denied, "permission denied: key %s belongs to %s", fp, k.OwnerName)
		}
		return tx.DeletePGPKey(ctx, fp)
	})
	if err != nil {
		return err
	}
	logctx.From(ctx).Info("key removed", "fingerprint", fp, "user", p.Name)
	s.changed()
	return nil
}

// List lists the keys of the user named owner ("" lists every key; keys
// are public, so anyone may list them).
func (s *Service) List(ctx context.Context, owner string) ([]meta.PGPKey, error) {
	if owner == "" {
		return s.meta.ListPGPKeys(ctx, "")
	}
	u, err := s.meta.GetUserByName(ctx, owner)
	if apperr.Is(err, apperr.NotFound) {
		return nil, apperr.New(apperr.NotFound, "no user %s", owner)
	}
	if err != nil {
		return nil, err
	}
	return s.meta.ListPGPKeys(ctx, u.ID)
}

// Mine lists p's own keys, each with whether it has expired (the web
// interface's account page).
func (s *Service) Mine(ctx context.Context, p auth.Principal) ([]Key, error) {
	if p.Anonymous() {
		return nil, apperr.New(apperr.Unauthenticated, "authentication required: log in to see your keys")
	}
	keys, err := s.meta.ListPGPKeys(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	return s.withExpiry(keys), nil
}

func (s *Service) changed() {
	if s.cfg.Changed != nil {
		s.cfg.Changed()
	}
}
