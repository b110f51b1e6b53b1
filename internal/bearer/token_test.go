package bearer_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/bearer"
	"github.com/silo-hpc/silo/internal/config"
	"github.com/silo-hpc/silo/internal/fsblob"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
	"github.com/silo-hpc/silo/internal/server"
	"github.com/silo-hpc/silo/internal/sqlmeta"
)

var key = []byte("0123456789abcdef0123456789abcdef")

// newService composes the real services (the registry decides the
// grants) and returns a token service on a settable clock.
func newService(t *testing.T, now *time.Time) (*bearer.Service, *auth.Service) {
	t.Helper()
	ctx := context.Background()
	ms, err := sqlmeta.OpenSQLite(ctx, filepath.Join(t.TempDir(), "silo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	bs, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := server.Compose(config.Default(), slog.New(slog.NewTextHandler(io.Discard, nil)), ms, bs, key)
	for _, u := range []struct {
		name string
		role meta.Role
	}{{"alice", meta.RoleUser}, {"mgr", meta.RoleManager}} {
		if _, err := svc.Auth.CreateUser(ctx, u.name, u.role, u.name+"-pw"); err != nil {
			t.Fatal(err)
		}
	}
	clock := func() time.Time { return time.Now().UTC() }
	if now != nil {
		clock = func() time.Time { return *now }
	}
	return bearer.New(svc.Auth, svc.Registry, bearer.Config{SigningKey: key, TokenTTL: 5 * time.Minute, Now: clock}), svc.Auth
}

// Tokens carry the principal and the granted scopes; they expire, and a
// refresh token is not an access token.
func TestTokenLifecycle(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	s, a := newService(t, &now)
	ctx := context.Background()
	res, err := s.Token(ctx, bearer.TokenRequest{Username: "alice", Password: "alice-pw", Service: "reg",
		Offline: true, Scopes: oci.ParseScopes("repository:alice/app:push,pull,delete repository:bob/app:push,pull registry:catalog:*")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Scope != "repository:alice/app:delete,pull,push registry:catalog:*" || res.ExpiresIn != 300 || !res.IssuedAt.Equal(now) || res.RefreshToken == "" {
		t.Fatalf("response %+v", res)
	}
	c, err := s.Authenticate(ctx, bearer.Credentials{Bearer: res.Token})
	if err != nil || c.Name != "alice" || !c.Token || !c.Allows("repository", "alice/app", oci.ActionPush) || c.Allows("repository", "bob/app", oci.ActionPull) {
		t.Fatalf("caller %+v %v", c, err)
	}
	if _, err := s.Authenticate(ctx, bearer.Credentials{Bearer: res.RefreshToken}); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("refresh token as access token: %v", err)
	}
	now = now.Add(6 * time.Minute)
	if _, err := s.Authenticate(ctx, bearer.Credentials{Bearer: res.Token}); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("expired token accepted: %v", err)
	}
	again, err := s.Token(ctx, bearer.TokenRequest{RefreshToken: res.RefreshToken, Scopes: oci.ParseScopes("repository:alice/x:pull")})
	if err != nil || again.Scope != "repository:alice/x:pull" {
		t.Fatalf("refresh: %+v %v", again, err)
	}
	// A disabled account gets nothing more from its refresh token.
	if err := a.SetDisabled(ctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Token(ctx, bearer.TokenRequest{RefreshToken: res.RefreshToken}); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("refresh after disable: %v", err)
	}
}

// A token minted from an API token ends when that token is revoked:
// access and refresh alike, at once.
func TestTokensEndWithTheirAPIToken(t *testing.T) {
	s, a := newService(t, nil)
	ctx := context.Background()
	apiTok, row, err := a.IssueToken(ctx, "alice", "laptop", 0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Token(ctx, bearer.TokenRequest{Username: "alice", Password: apiTok, Offline: true,
		Scopes: oci.ParseScopes("repository:alice/app:pull")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, bearer.Credentials{Bearer: res.Token}); err != nil {
		t.Fatal(err)
	}
	if err := a.RevokeToken(ctx, row.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, bearer.Credentials{Bearer: res.Token}); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("access token after revoke: %v", err)
	}
	if _, err := s.Token(ctx, bearer.TokenRequest{RefreshToken: res.RefreshToken}); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("refresh after revoke: %v", err)
	}
}

// Bad credentials are an error even without a scope; none is anonymous.
func TestTokenCredentials(t *testing.T) {
	s, a := newService(t, nil)
	ctx := context.Background()
	if _, err := s.Token(ctx, bearer.TokenRequest{Username: "alice", Password: "nope"}); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("bad password: %v", err)
	}
	if _, err := s.Token(ctx, bearer.TokenRequest{Username: "alice"}); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("no password: %v", err)
	}
	res, err := s.Token(ctx, bearer.TokenRequest{Scopes: oci.ParseScopes("repository:alice/app:push,pull")})
	if err != nil || res.Scope != "" || res.RefreshToken != "" {
		t.Fatalf("anonymous: %+v %v", res, err)
	}
	tok, _, err := a.IssueToken(ctx, "mgr", "t", 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Authenticate(ctx, bearer.Credentials{Basic: true, Username: "mgr", Password: tok})
	if err != nil || c.Name != "mgr" || c.Token {
		t.Fatalf("basic with API token: %+v %v", c, err)
	}
	if c, err := s.Authenticate(ctx, bearer.Credentials{Basic: true}); err != nil || !c.Anonymous() {
		t.Fatalf("Basic Og==: %+v %v", c, err)
	}
}

// The grant follows the namespace rule for plain repositories, and a
// grant creates nothing.
func TestGrantNamespaces(t *testing.T) {
	s, _ := newService(t, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		user, repo, want string
	}{
		{"alice", "alice/x", "repository:alice/x:pull,push,delete"},
		{"alice", "team/x", ""},
		{"alice", "alice/col/c", "repository:alice/col/c:pull,push,delete"},
		{"mgr", "team/x", "repository:team/x:pull,push,delete"},
		{"", "alice/x", ""},
	} {
		req := bearer.TokenRequest{Username: tc.user, Password: tc.user + "-pw",
			Scopes: []oci.Scope{{Type: "repository", Name: tc.repo, Actions: []string{"*"}}}}
		if tc.user == "" {
			req.Password = ""
		}
		res, err := s.Token(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if res.Scope != tc.want {
			t.Errorf("%s on %s: %q, want %q", tc.user, tc.repo, res.Scope, tc.want)
		}
	}
}

// A token without an expiry is not accepted, even correctly signed: every
// token Silo issues expires, so one that does not was not made by Token.
func TestTokenWithoutExpiryRejected(t *testing.T) {
	s, _ := newService(t, nil)
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "silo", "sub": "alice", "kind": "access", "uid": "x",
		"access": []map[string]any{{"type": "repository", "name": "alice/app", "actions": []string{"pull"}}}}).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(context.Background(), bearer.Credentials{Bearer: tok}); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("token without exp: %v", err)
	}
}
