package registry

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

// grantClaim is one entry of a token's "access" claim (distribution's jwt.md).
type grantClaim struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// claims are Silo's registry token claims. The principal travels in the
// token so a replica can check a request without a database round trip;
// a token therefore keeps its rights until it expires (TokenTTL).
type claims struct {
	jwt.RegisteredClaims
	Kind   string       `json:"kind"`
	UserID string       `json:"uid,omitempty"`
	Role   string       `json:"role,omitempty"`
	Access []grantClaim `json:"access,omitempty"`
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

// Token authenticates a token request and issues a token for the
// intersection of the asked scopes and what the principal may do. Bad
// credentials are always an error, even with no scope: that is how
// `registry login` tells a wrong password (notes §3.2, §4.2).
func (s *Service) Token(ctx context.Context, req TokenRequest) (TokenResponse, error) {
	var p auth.Principal
	var err error
	switch {
	case req.RefreshToken != "":
		p, err = s.verifyRefresh(ctx, req.RefreshToken)
	case req.Username != "" || req.Password != "":
		p, err = s.auth.CheckPassword(ctx, req.Username, req.Password)
	}
	if err != nil {
		return TokenResponse{}, oci.WithCode(oci.CodeUnauthorized, err)
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
		Kind: kind, UserID: p.UserID, Role: string(p.Role),
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
		return claims{}, oci.WithCode(oci.CodeUnauthorized, apperr.Wrap(apperr.Unauthenticated, err, "invalid token"))
	}
	return c, nil
}

func principalOf(c claims) auth.Principal {
	return auth.Principal{UserID: c.UserID, Name: c.Subject, Role: meta.Role(c.Role)}
}

// verifyRefresh checks a refresh token and then the account itself: a
// refresh token lives for weeks, so a disabled user (or a changed role)
// must take effect at the next refresh, not when the token expires.
func (s *Service) verifyRefresh(ctx context.Context, tok string) (auth.Principal, error) {
	c, err := s.parse(tok, kindRefresh)
	if err != nil {
		return auth.Principal{}, err
	}
	u, err := s.meta.GetUser(ctx, c.UserID)
	if err != nil || u.Disabled {
		return auth.Principal{}, apperr.Wrap(apperr.Unauthenticated, err, "refresh token is no longer valid")
	}
	return auth.Principal{UserID: u.ID, Name: u.Name, Role: u.Role}, nil
}

// Credentials are what a registry request presented.
type Credentials struct {
	Basic              bool
	Username, Password string
	Bearer             string
}

// Authenticate turns a request's credentials into a Caller. No
// credentials, and Basic with an empty user and password (what resty and
// the conformance suite send), are anonymous. A Bearer value that is not a
// registry token is tried as an API token, so `silo` and scripts can use
// their API token directly.
func (s *Service) Authenticate(ctx context.Context, cr Credentials) (Caller, error) {
	switch {
	case cr.Bearer != "" && strings.Count(cr.Bearer, ".") == 2:
		c, err := s.parse(cr.Bearer, kindAccess)
		if err != nil {
			// Not ours: perhaps an API token that happens to look like a JWT.
			if p, terr := s.auth.CheckToken(ctx, cr.Bearer); terr == nil {
				return Caller{Principal: p}, nil
			}
			return Caller{}, err
		}
		caller := Caller{Principal: principalOf(c), Token: true}
		for _, a := range c.Access {
			caller.Grants = append(caller.Grants, oci.Scope{Type: a.Type, Name: a.Name, Actions: a.Actions})
		}
		return caller, nil
	case cr.Bearer != "":
		p, err := s.auth.CheckToken(ctx, cr.Bearer)
		return Caller{Principal: p}, oci.WithCode(oci.CodeUnauthorized, err)
	case cr.Basic && (cr.Username != "" || cr.Password != ""):
		p, err := s.auth.CheckPassword(ctx, cr.Username, cr.Password)
		return Caller{Principal: p}, oci.WithCode(oci.CodeUnauthorized, err)
	}
	return Caller{}, nil
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
			may, err := s.rights(ctx, p, sc.Name)
			if err != nil {
				return nil, err
			}
			for _, a := range sc.Actions {
				if a == oci.ActionAll {
					allowed = may
					break
				}
				for _, m := range may {
					if a == m {
						allowed = append(allowed, a)
					}
				}
			}
		}
		if len(allowed) > 0 {
			out = append(out, oci.Scope{Type: sc.Type, Name: sc.Name, Actions: allowed})
		}
	}
	return out, nil
}

// rights lists the actions p may take on repository name, asking the same
// rules the requests use. Push is checked in a transaction rolled back at
// once, so nothing a push would create is created.
func (s *Service) rights(ctx context.Context, p auth.Principal, name string) ([]string, error) {
	var may []string
	if _, ok, err := s.readable(ctx, p, name); err != nil {
		return nil, err
	} else if ok {
		may = append(may, oci.ActionPull)
	}
	if p.Anonymous() {
		return may, nil
	}
	err := s.tx(ctx, func(tx meta.Store) error {
		if _, err := s.pushRepo(ctx, tx, Caller{Principal: p}, name, oci.ActionPush); err != nil {
			return err
		}
		return errRollback
	})
	switch {
	case errors.Is(err, errRollback):
		may = append(may, oci.ActionPush, oci.ActionDelete)
		if len(may) == 2 { // a writer may read what it writes
			may = append([]string{oci.ActionPull}, may...)
		}
	case apperr.Is(err, apperr.Denied), apperr.Is(err, apperr.NotFound), apperr.Is(err, apperr.Conflict),
		apperr.Is(err, apperr.Invalid), apperr.Is(err, apperr.Unauthenticated):
	default:
		return nil, err
	}
	return may, nil
}
