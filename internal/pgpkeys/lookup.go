package pgpkeys

import (
	"context"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/logctx"
	"github.com/silo-hpc/silo/internal/meta"
)

// Query finds keys: by a (sub)key fingerprint, a 64-bit or 32-bit key ID
// (upper-case hex), or text in a user ID (Exact: a whole user ID or
// e-mail address). The keyserver transport parses HKP's search into it.
type Query struct {
	Fingerprint, KeyID, ShortID, Text string
	Exact                             bool
	// Limit (1 to MaxPage; 0: MaxPage) and Offset page Index's results.
	Limit, Offset int
}

// MaxPage is the most keys one lookup answers.
const MaxPage = 100

// Key is a held key as lookups show it.
type Key struct {
	meta.PGPKey
	// Expired: the key's expiry time has passed.
	Expired bool
}

func (s *Service) find(ctx context.Context, q Query, extra int) ([]meta.PGPKey, error) {
	if q.Fingerprint == "" && q.KeyID == "" && q.ShortID == "" && strings.TrimSpace(q.Text) == "" {
		return nil, apperr.New(apperr.Invalid, "search for a key ID, a fingerprint, a name or an e-mail address")
	}
	limit := q.Limit
	if limit <= 0 || limit > MaxPage {
		limit = MaxPage
	}
	return s.meta.FindPGPKeys(ctx, meta.PGPKeyQuery{Fingerprint: q.Fingerprint, KeyID: q.KeyID, ShortID: q.ShortID,
		Text: strings.TrimSpace(q.Text), Exact: q.Exact, Limit: limit + extra, Offset: q.Offset})
}

var errNoKeys = apperr.New(apperr.NotFound, "no keys match")

// Get returns the keys matching q (at most MaxPage) as one armored
// keyring: what `singularity key pull` and `verify` fetch.
func (s *Service) Get(ctx context.Context, q Query) (string, error) {
	keys, err := s.find(ctx, q, 0)
	if err != nil {
		return "", err
	}
	if len(keys) == 0 {
		return "", errNoKeys
	}
	texts := make([]string, len(keys))
	for i, k := range keys {
		texts[i] = k.Armored
	}
	return joinArmored(texts)
}

// Index returns a page of the keys matching q, and whether more follow:
// what `singularity key search` lists.
func (s *Service) Index(ctx context.Context, q Query) ([]Key, bool, error) {
	keys, err := s.find(ctx, q, 1)
	if err != nil {
		return nil, false, err
	}
	if len(keys) == 0 {
		return nil, false, errNoKeys
	}
	limit := q.Limit
	if limit <= 0 || limit > MaxPage {
		limit = MaxPage
	}
	more := len(keys) > limit
	if more {
		keys = keys[:limit]
	}
	return s.withExpiry(keys), more, nil
}

// withExpiry tells, for each key, whether it has expired.
func (s *Service) withExpiry(keys []meta.PGPKey) []Key {
	now := s.cfg.Now()
	out := make([]Key, len(keys))
	for i, k := range keys {
		out[i] = Key{PGPKey: k, Expired: !k.ExpiresAt.IsZero() && !k.ExpiresAt.After(now)}
	}
	return out
}

// SigningKeys returns the held keys whose primary fingerprints are among
// fingerprints, their owners' names by fingerprint, and the keyring
// generation read before them (bridge.KeySource): the bridge verifies
// images' signatures with them.
func (s *Service) SigningKeys(ctx context.Context, fingerprints []string) (openpgp.EntityList, map[string]string, int64, error) {
	var el openpgp.EntityList
	owners := map[string]string{}
	var gen int64
	err := meta.View(ctx, s.meta, func(st Store) error {
		var err error
		if gen, err = st.KeyringGeneration(ctx); err != nil {
			return err
		}
		for _, fp := range fingerprints {
			if _, dup := owners[fp]; dup {
				continue // asked twice: one entity
			}
			k, err := st.GetPGPKey(ctx, fp)
			if apperr.Is(err, apperr.NotFound) {
				continue
			}
			if err != nil {
				return err
			}
			keys, err := readArmored(k.Armored)
			if err != nil || len(keys) != 1 {
				logctx.From(ctx).Warn("a stored key cannot be read", "fingerprint", fp, "err", err)
				continue
			}
			if k.Revoked {
				revokedSinceCreation(keys[0])
			}
			el = append(el, keys[0])
			owners[fp] = k.OwnerName
		}
		return nil
	})
	return el, owners, gen, err
}

// revokedSinceCreation makes e's revocations count from the key's
// creation. A key is stored revoked as soon as it carries a revocation,
// even one dated ahead of the server's clock (parse.go, revoked), but
// go-crypto counts a revocation from its date: a signature checked before
// that date would be found good, and nothing checks stored images again
// when the date passes, so they would stay verified. For Silo a revoked
// key is revoked, as the key's row says (and stays so: a lifetime on the
// revocation, which would end it sooner once dated back, is dropped).
func revokedSinceCreation(e *openpgp.Entity) {
	for _, r := range e.Revocations {
		r.CreationTime = e.PrimaryKey.CreationTime
		r.SigLifetimeSecs = nil
	}
}
