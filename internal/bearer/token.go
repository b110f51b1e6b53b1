// Package bearer is the registry token service: it issues and verifies
// the bearer tokens (HS256 JWTs) OCI clients get from /v2/token
// (distribution's token.md, oauth.md and jwt.md; docs/protocols/
// oci-and-auth.md §3), and turns a request's credentials into the Caller
// the registry decides for.
//
// A token is only a cache of a decision: every request re-checks, through
// auth.Verify (one read, which the SQLite store answers from memory only
// while the database is unchanged), that the account is enabled and that
// the API token the client logged in with is still live, so revoking it
// ends every token derived from it at once.
package bearer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
)

const (
	issuer = "silo"
	// refreshTTL is the lifetime of refresh tokens (offline_token=true).
	refreshTTL  = 30 * 24 * time.Hour
	kindAccess  = "access"
	kindRefresh = "refresh"
)

// Rights is what the token service asks the registry: the actions p may
// take on repository name, by the same rules the requests use.
type Rights interface {
	Rights(ctx context.Context, p auth.Principal, name string) ([]string, error)
}

// Config is the token service's part of the server configuration.
type Config struct {
	// SigningKey signs tokens (HS256); replicas share it.
	SigningKey []byte
	// TokenTTL is the lifetime of access tokens (at least a minute).
	TokenTTL time.Duration
	// Now is the clock (tests).
	Now func() time.Time
}

// Service issues and checks registry tokens.
type Service struct {
	auth   *auth.Service
	rights Rights
	cfg    Config
	now    func() time.Time
}

// New returns the token service.
func New(a *auth.Service, rights Rights, cfg Config) *Service {
	if cfg.TokenTTL < time.Minute {
		cfg.TokenTTL = time.Minute
	}
	now := cfg.Now
	if now == nil {
		now = func() time.Time { return time.Now().UTC() }
	}
	return &Service{auth: a, rights: rights, cfg: cfg, now: now}
}

// grantClaim is one entry of a token's "access" claim (distribution's jwt.md).
type grantClaim struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// claims are Silo's registry token claims: the principal (user, role, and
// the API token it logged in with) and the grants.
type claims struct {
	jwt.RegisteredClaims
	Kind    string       `json:"kind"`
	UserID  string       `json:"uid,omitempty"`
	Role    string       `json:"role,omitempty"`
	TokenID string       `json:"tid,omitempty"`
	Access  []grantClaim `json:"access,omitempty"`
}

// TokenRequest is a request to the token endpoint (/v2/token), in either
// form: GET with Basic credentials, or the OAuth2 POST form.
type TokenRequest struct {
	Username, Password string // "" and "" for anonymous
	RefreshToken       string // the refresh_token grant
	Service            string
	Scopes             []oci.Scope
	Offline            bool // offline_token=true / access_type=offline
}

// TokenResponse is what the token endpoint returns.
type TokenResponse struct {
	Token        string
	ExpiresIn    int
	IssuedAt     time.Time
	RefreshToken string
	Scope        string
}

// MaxScopes bounds the scopes of one token request: each is a database
// look-up and a claim in the token, and clients ask for one to a few (a
// push mounting from other repositories asks for those too).
const MaxScopes = 64

// Token authenticates a token request and issues a token for the
// intersection of the asked scopes and what the principal may do. Bad
// credentials are always an error, even with no scope: that is how
// `registry login` tells a wrong password (docs/protocols/oci-and-auth.md
// §3.2, §4.2).
func (s *Service) Token(ctx context.Context, req TokenRequest) (TokenResponse, error) {
	if len(req.Scopes) > MaxScopes {
		return TokenResponse{}, apperr.New(apperr.Invalid, "a token request may ask for at most %d scopes, not %d", MaxScopes, len(req.Scopes))
	}
	var p auth.Principal
	var err error
	switch {
	case req.RefreshToken != "":
		p, err = s.verify(ctx, req.RefreshToken, kindRefresh)
	case req.Username != "" || req.Password != "":
		p, err = s.auth.CheckPassword(ctx, req.Username, req.Password)
	}
	if err != nil {
		return TokenResponse{}, err
	}
	grants, err := s.grant(ctx, p, req.Scopes)
	if err != nil {
		return TokenResponse{}, err
	}
	now := s.now().Truncate(time.Second)
	tok, err := s.sign(p, req.Service, kindAccess, grants, now, s.cfg.TokenTTL)
	if err != nil {
		return TokenResponse{}, err
	}
	res := TokenResponse{Token: tok, ExpiresIn: int(s.cfg.TokenTTL / time.Second), IssuedAt: now}
	var scopes []string
	for _, g := range grants {
		scopes = append(scopes, g.String())
	}
	res.Scope = strings.Join(scopes, " ")
	if req.Offline && !p.Anonymous() {
		if res.RefreshToken, err = s.sign(p, req.Service, kindRefresh, nil, now, refreshTTL); err != nil {
			return TokenResponse{}, err
		}
	}
	return res, nil
}

// IssueToken issues an access token for p on repository name with the
// asked actions intersected with p's rights, and says which were granted:
// what /v1/oci-redirect hands library clients.
func (s *Service) IssueToken(ctx context.Context, p auth.Principal, service, name string, actions []string) (string, []string, error) {
	grants, err := s.grant(ctx, p, []oci.Scope{{Type: "repository", Name: name, Actions: actions}})
	if err != nil {
		return "", nil, err
	}
	var granted []string
	if len(grants) == 1 {
		granted = grants[0].Actions
	}
	tok, err := s.sign(p, service, kindAccess, grants, s.now().Truncate(time.Second), s.cfg.TokenTTL)
	return tok, granted, err
}

func (s *Service) sign(p auth.Principal, service, kind string, grants []oci.Scope, now time.Time, ttl time.Duration) (string, error) {
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: issuer, Subject: p.Name, ID: hex.EncodeToString(jti[:]),
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Kind: kind, UserID: p.UserID, Role: string(p.Role), TokenID: p.TokenID,
	}
	if service != "" {
		c.Audience = jwt.ClaimStrings{service}
	}
	for _, g := range grants {
		c.Access = append(c.Access, grantClaim{Type: g.Type, Name: g.Name, Actions: g.Actions})
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.cfg.SigningKey)
	if err != nil {
		return "", apperr.Wrap(apperr.Internal, err, "signing token")
	}
	return tok, nil
}

// parse verifies a token's signature, expiry and kind.
func (s *Service) parse(tok, kind string) (claims, error) {
	var c claims
	_, err := jwt.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return s.cfg.SigningKey, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(s.now))
	if err == nil && c.Kind != kind {
		err = errors.New("wrong kind of token")
	}
	if err != nil {
		return claims{}, apperr.Wrap(apperr.Unauthenticated, err, "invalid token")
	}
	return c, nil
}

// verify parses a token and checks its principal is still good now: the
// account enabled, the API token it came from live. A token lives for
// minutes (access) or weeks (refresh); neither outlives a revocation.
func (s *Service) verify(ctx context.Context, tok, kind string) (auth.Principal, error) {
	c, err := s.parse(tok, kind)
	if err != nil {
		return auth.Principal{}, err
	}
	return s.principal(ctx, c)
}

// principal is the principal c carries, as it is now.
func (s *Service) principal(ctx context.Context, c claims) (auth.Principal, error) {
	p := auth.Principal{UserID: c.UserID, Name: c.Subject, Role: meta.Role(c.Role), TokenID: c.TokenID}
	if p.Anonymous() {
		return p, nil
	}
	cur, err := s.auth.Verify(ctx, p)
	if err != nil {
		return auth.Principal{}, apperr.Wrap(apperr.Unauthenticated, err, "the token is no longer valid")
	}
	return cur, nil
}

// grant intersects asked scopes with what p may do. The catalog is open to
// everyone (it lists only what the caller may see).
func (s *Service) grant(ctx context.Context, p auth.Principal, asked []oci.Scope) ([]oci.Scope, error) {
	var out []oci.Scope
	for _, sc := range asked {
		var allowed []string
		switch {
		case sc.Type == oci.CatalogScope.Type && sc.Name == oci.CatalogScope.Name:
			allowed = sc.Actions
		case sc.Type == "repository" && oci.ValidName(sc.Name):
			may, err := s.rights.Rights(ctx, p, sc.Name)
			if err != nil {
				return nil, err
			}
			allowed = intersect(sc.Actions, may)
		}
		if len(allowed) > 0 {
			out = append(out, oci.Scope{Type: sc.Type, Name: sc.Name, Actions: allowed})
		}
	}
	return out, nil
}

// intersect keeps the asked actions p may take; "*" asks for all of them.
func intersect(asked, may []string) []string {
	var out []string
	for _, a := range asked {
		if a == oci.ActionAll {
			return may
		}
		for _, m := range may {
			if a == m {
				out = append(out, a)
			}
		}
	}
	return out
}
