package registry

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/access"
	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/fsblob"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
	"github.com/silo-hpc/silo/internal/sqlmeta"
)

func newService(t *testing.T) (*Service, *auth.Service) {
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
	a := auth.New(ms)
	for _, u := range []struct {
		name string
		role meta.Role
	}{{"alice", meta.RoleUser}, {"mgr", meta.RoleManager}} {
		if _, err := a.CreateUser(ctx, u.name, u.role, u.name+"-pw"); err != nil {
			t.Fatal(err)
		}
	}
	s := New(ms, bs, a, access.Checker{}, Config{SigningKey: []byte("0123456789abcdef0123456789abcdef"), TokenTTL: 5 * time.Minute})
	return s, a
}

// Tokens carry the principal and the granted scopes; they expire, and a
// refresh token is not an access token.
func TestTokenLifecycle(t *testing.T) {
	s, a := newService(t)
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.now = func() time.Time { return now }
	res, err := s.Token(ctx, TokenRequest{Username: "alice", Password: "alice-pw", Service: "reg",
		Offline: true, Scopes: oci.ParseScopes("repository:alice/app:push,pull,delete repository:bob/app:push,pull registry:catalog:*")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Scope != "repository:alice/app:delete,pull,push registry:catalog:*" || res.ExpiresIn != 300 || !res.IssuedAt.Equal(now) || res.RefreshToken == "" {
		t.Fatalf("response %+v", res)
	}
	c, err := s.Authenticate(ctx, Credentials{Bearer: res.Token})
	if err != nil || c.Name != "alice" || !c.Token || !c.allows("repository", "alice/app", oci.ActionPush) || c.allows("repository", "bob/app", oci.ActionPull) {
		t.Fatalf("caller %+v %v", c, err)
	}
	if _, err := s.Authenticate(ctx, Credentials{Bearer: res.RefreshToken}); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("refresh token as access token: %v", err)
	}
	now = now.Add(6 * time.Minute)
	if _, err := s.Authenticate(ctx, Credentials{Bearer: res.Token}); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("expired token accepted: %v", err)
	}
	again, err := s.Token(ctx, TokenRequest{RefreshToken: res.RefreshToken, Scopes: oci.ParseScopes("repository:alice/x:pull")})
	if err != nil || again.Scope != "repository:alice/x:pull" {
		t.Fatalf("refresh: %+v %v", again, err)
	}
	// A disabled account gets nothing more from its refresh token.
	if err := a.SetDisabled(ctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Token(ctx, TokenRequest{RefreshToken: res.RefreshToken}); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("refresh after disable: %v", err)
	}
}

// Bad credentials are an error even without a scope; none is anonymous.
func TestTokenCredentials(t *testing.T) {
	s, a := newService(t)
	ctx := context.Background()
	if _, err := s.Token(ctx, TokenRequest{Username: "alice", Password: "nope"}); !apperr.Is(err, apperr.Unauthenticated) || oci.CodeOf(err) != oci.CodeUnauthorized {
		t.Fatalf("bad password: %v", err)
	}
	if _, err := s.Token(ctx, TokenRequest{Username: "alice"}); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("no password: %v", err)
	}
	res, err := s.Token(ctx, TokenRequest{Scopes: oci.ParseScopes("repository:alice/app:push,pull")})
	if err != nil || res.Scope != "" || res.RefreshToken != "" {
		t.Fatalf("anonymous: %+v %v", res, err)
	}
	tok, _, err := a.IssueToken(ctx, "mgr", "t", 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Authenticate(ctx, Credentials{Basic: true, Username: "mgr", Password: tok})
	if err != nil || c.Name != "mgr" || c.Token {
		t.Fatalf("basic with API token: %+v %v", c, err)
	}
	if c, err := s.Authenticate(ctx, Credentials{Basic: true}); err != nil || !c.Anonymous() {
		t.Fatalf("Basic Og==: %+v %v", c, err)
	}
}

// The grant follows the namespace rule for plain repositories.
func TestGrantNamespaces(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	mgr, err := s.Authenticate(ctx, Credentials{Basic: true, Username: "mgr", Password: "mgr-pw"})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := s.Authenticate(ctx, Credentials{Basic: true, Username: "alice", Password: "alice-pw"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		who  Caller
		repo string
		want string
	}{
		{alice, "alice/x", "repository:alice/x:pull,push,delete"},
		{alice, "team/x", ""},
		{mgr, "team/x", "repository:team/x:pull,push,delete"},
		{Caller{}, "alice/x", ""},
	} {
		g, err := s.grant(ctx, tc.who.Principal, []oci.Scope{{Type: "repository", Name: tc.repo, Actions: []string{"*"}}})
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if len(g) == 1 {
			got = g[0].String()
		}
		if got != tc.want {
			t.Errorf("%s on %s: %q, want %q", tc.who.Name, tc.repo, got, tc.want)
		}
	}
	// Nothing the dry run would have created exists.
	if _, err := s.meta.GetRepository(ctx, "alice/x"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("grant created a repository: %v", err)
	}
}
