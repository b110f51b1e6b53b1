package sregistry

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
)

// scheme is sregistry-cli's Authorization scheme (SR §2).
const scheme = "SREGISTRY-HMAC-SHA256"

// Kinds of signed requests (SR §2.1).
const (
	kindPull   = "pull"
	kindPush   = "push"
	kindUpload = "upload"
	kindDelete = "delete"
)

// tsLayout is the signature's timestamp: UTC, to the hour (SR §2.1).
const tsLayout = "20060102T15Z"

// clientKeyPrefix starts every client key, so a pasted key is
// recognisable (and secret scanners find it).
const clientKeyPrefix = "silo_sreg_"

// signed is what a signature covers besides its kind and time: the names
// as the client parsed them (the URL's for a pull, the body's for a push,
// the permit's collection for an upload; SR §2.2, §7).
type signed struct {
	collection, name, tag string
}

// credential is a parsed SREGISTRY-HMAC-SHA256 header.
type credential struct {
	kind, user, ts, sig string
}

var (
	errBadSignature = apperr.New(apperr.Unauthenticated, "invalid signature: check the username and token in your sregistry secrets")
	errNoUser       = apperr.New(apperr.Unauthenticated, "authentication required: this request must be signed (sregistry secrets) or carry a Silo token")
)

// parseCredential reads "SREGISTRY-HMAC-SHA256 Credential=<kind>/<b64
// user>/<ts>,Signature=<hex>". Values are split at their first "=" (the
// base64 padding survives) and the credential at its first and last "/"
// (a base64 user name may hold "/"), SR §2.3.
func parseCredential(h string) (credential, bool) {
	rest, ok := strings.CutPrefix(h, scheme+" ")
	if !ok {
		return credential{}, false
	}
	var c credential
	var cred string
	for _, kv := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		switch k {
		case "Credential":
			cred = v
		case "Signature":
			c.sig = strings.ToLower(v)
		}
	}
	i, j := strings.Index(cred, "/"), strings.LastIndex(cred, "/")
	if i < 0 || j <= i || c.sig == "" {
		return credential{}, false
	}
	user, err := base64.StdEncoding.DecodeString(cred[i+1 : j])
	if err != nil || len(user) == 0 {
		return credential{}, false
	}
	c.kind, c.user, c.ts = cred[:i], string(user), cred[j+1:]
	return c, true
}

// principal authenticates a request: no credentials is anonymous; a
// Bearer Silo API token works as everywhere else; an sregistry signature
// must be of kind over what (kind "" accepts no signature: the request is
// not one sregistry-cli signs).
func (s *Service) principal(ctx context.Context, authz, kind string, what signed) (auth.Principal, error) {
	authz = strings.TrimSpace(authz)
	if authz == "" {
		return auth.Principal{}, nil
	}
	if typ, tok, _ := strings.Cut(authz, " "); strings.EqualFold(typ, "bearer") {
		return s.auth.CheckToken(ctx, strings.TrimSpace(tok))
	}
	c, ok := parseCredential(authz)
	switch {
	case !ok && strings.HasPrefix(authz, scheme):
		return auth.Principal{}, apperr.New(apperr.Unauthenticated, "invalid signature: malformed %s header", scheme)
	case !ok:
		return auth.Principal{}, apperr.New(apperr.Unauthenticated, "unsupported Authorization: want %s or Bearer", scheme)
	}
	if kind == "" || c.kind != kind {
		return auth.Principal{}, apperr.New(apperr.Unauthenticated, "a %q signature cannot authorize this request", c.kind)
	}
	if !s.fresh(c.ts) {
		return auth.Principal{}, apperr.New(apperr.Unauthenticated,
			"signature expired: its time %s is not this UTC hour or the last one (check the client's clock)", c.ts)
	}
	return s.verify(ctx, c, what)
}

// fresh accepts the server's current UTC hour and the one before: a
// request signed at hh:59:59 still counts when it arrives after the hour
// (SR §2.3).
func (s *Service) fresh(ts string) bool {
	now := s.cfg.Now().UTC()
	return ts == now.Format(tsLayout) || ts == now.Add(-time.Hour).Format(tsLayout)
}

// verify finds which of the user's live tokens' client keys signed the
// payload. The key is never stored: each token's is derived again
// (clientKey), so the API tokens stay hashed at rest.
func (s *Service) verify(ctx context.Context, c credential, what signed) (auth.Principal, error) {
	tokens, err := s.auth.ListTokens(ctx, c.user)
	if apperr.Is(err, apperr.NotFound) {
		return auth.Principal{}, errBadSignature
	}
	if err != nil {
		return auth.Principal{}, err
	}
	got, err := hex.DecodeString(c.sig)
	if err != nil {
		return auth.Principal{}, errBadSignature
	}
	payload := c.kind + "|" + what.collection + "|" + c.ts + "|" + what.name + "|" + what.tag + "|"
	for _, t := range tokens {
		m := hmac.New(sha256.New, []byte(s.clientKey(t)))
		m.Write([]byte(payload))
		if hmac.Equal(m.Sum(nil), got) {
			// auth's own check of the token and its owner: revoked,
			// expired or disabled, even a moment ago, is refused.
			p, err := s.auth.Verify(ctx, auth.Principal{UserID: t.UserID, TokenID: t.ID})
			if apperr.Is(err, apperr.Unauthenticated) {
				return auth.Principal{}, errBadSignature
			}
			return p, err
		}
	}
	return auth.Principal{}, errBadSignature
}

// clientKey is the sregistry secret of an API token: what sregistry-cli
// signs with (its "token" setting). It is derived from the server's key
// and the token's stored hash, so the server can verify signatures while
// keeping only hashes of API tokens, and it is not an API token itself: it
// authenticates this API's signatures and nothing else. Revoking the API
// token revokes it.
func (s *Service) clientKey(t meta.Token) string {
	return clientKeyPrefix + base64.RawURLEncoding.EncodeToString(s.mac("client key", t.ID, t.Hash))
}

// ClientSecrets returns the ~/.sregistry file (SR §1) for one of p's live
// API tokens, with base the server's URL: what the token page shows to
// paste. Its token is the API token's client key, not the token.
func (s *Service) ClientSecrets(ctx context.Context, p auth.Principal, tokenID, base string) ([]byte, error) {
	if p.Anonymous() {
		return nil, errNoUser
	}
	notFound := apperr.New(apperr.NotFound, "token %s not found", tokenID)
	// auth's check that the token is p's and live.
	if _, err := s.auth.Verify(ctx, auth.Principal{UserID: p.UserID, TokenID: tokenID}); apperr.Is(err, apperr.Unauthenticated) {
		return nil, notFound
	} else if err != nil {
		return nil, err
	}
	tokens, err := s.auth.ListTokens(ctx, p.Name)
	if err != nil {
		return nil, err
	}
	for _, t := range tokens {
		if t.ID == tokenID {
			return SecretsJSON(p.Name, s.clientKey(t), base), nil
		}
	}
	return nil, notFound
}

// SecretsJSON is the ~/.sregistry file sregistry's own token page shows
// (SR §1): the registry backend selected, with the user name, key and
// base URL under the keys the client reads.
func SecretsJSON(username, key, base string) []byte {
	b, _ := json.MarshalIndent(map[string]any{
		"SREGISTRY_CLIENT": "registry",
		"registry":         map[string]string{"token": key, "username": username, "base": strings.TrimRight(base, "/")},
	}, "", "    ")
	return append(b, '\n')
}
