package auth_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/sqlmeta"
)

func newService(t *testing.T) (*auth.Service, meta.Store) {
	t.Helper()
	s, err := sqlmeta.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "silo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return auth.New(s), s
}

func TestPasswordHashing(t *testing.T) {
	h := auth.HashPassword("s3cret")
	if !strings.HasPrefix(h, "$argon2id$") || strings.Contains(h, "s3cret") {
		t.Fatalf("hash %q", h)
	}
	if ok, err := auth.VerifyPassword(h, "s3cret"); !ok || err != nil {
		t.Fatalf("verify good: %v %v", ok, err)
	}
	if ok, _ := auth.VerifyPassword(h, "s3cre"); ok {
		t.Fatal("verify accepted a wrong password")
	}
	if h == auth.HashPassword("s3cret") {
		t.Fatal("hashes are not salted")
	}
	if _, err := auth.VerifyPassword("$2y$10$bcrypt", "x"); err == nil {
		t.Fatal("unknown hash format accepted")
	}
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	a, store := newService(t)
	if _, err := a.CreateUser(ctx, "alice", meta.RoleUser, "pw"); err != nil {
		t.Fatal(err)
	}
	tok, rec, err := a.IssueToken(ctx, "alice", "laptop", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) < 200 || !strings.HasPrefix(tok, auth.TokenPrefix) {
		t.Fatalf("token %q is too short for singularity", tok)
	}
	if rec.Hash == tok || rec.Hash != auth.HashToken(tok) {
		t.Fatal("token not stored as its hash")
	}
	p, err := a.CheckToken(ctx, tok)
	if err != nil || p.Name != "alice" {
		t.Fatalf("check: %+v %v", p, err)
	}
	got, _, _ := store.GetToken(ctx, rec.ID)
	if got.LastUsedAt.IsZero() {
		t.Fatal("last-used not recorded")
	}
	for name, bad := range map[string]string{"empty": "", "wrong": tok + "x", "prefix only": auth.TokenPrefix} {
		if _, err := a.CheckToken(ctx, bad); !apperr.Is(err, apperr.Unauthenticated) {
			t.Errorf("%s token: %v", name, err)
		}
	}
	// Tokens double as Basic passwords for the token's own user only.
	if _, err := a.CheckPassword(ctx, "alice", tok); err != nil {
		t.Fatalf("token as password: %v", err)
	}
	if _, err := a.CreateUser(ctx, "bob", meta.RoleUser, "pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CheckPassword(ctx, "bob", tok); err == nil {
		t.Fatal("alice's token authenticated bob")
	}
	if err := a.RevokeToken(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CheckToken(ctx, tok); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("revoked token: %v", err)
	}
	short := auth.NewToken()
	alice, _ := store.GetUserByName(ctx, "alice")
	expired := meta.Token{UserID: alice.ID, Hash: auth.HashToken(short), ExpiresAt: time.Now().Add(-time.Minute)}
	if err := store.CreateToken(ctx, &expired); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CheckToken(ctx, short); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("expired token: %v", err)
	}
	if err := a.SetDisabled(ctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	live, _, _ := a.IssueToken(ctx, "alice", "after", 0)
	if _, err := a.CheckToken(ctx, live); err == nil {
		t.Fatal("disabled user's token accepted")
	}
	if _, err := a.CheckPassword(ctx, "alice", "pw"); err == nil {
		t.Fatal("disabled user's password accepted")
	}
}

func TestPasswords(t *testing.T) {
	ctx := context.Background()
	a, _ := newService(t)
	if _, err := a.CreateUser(ctx, "alice", meta.RoleManager, "pw"); err != nil {
		t.Fatal(err)
	}
	if p, err := a.CheckPassword(ctx, "alice", "pw"); err != nil || p.Role != meta.RoleManager {
		t.Fatalf("good password: %+v %v", p, err)
	}
	for _, c := range [][2]string{{"alice", "PW"}, {"alice", ""}, {"nobody", "pw"}, {"", "pw"}} {
		if _, err := a.CheckPassword(ctx, c[0], c[1]); !apperr.Is(err, apperr.Unauthenticated) {
			t.Errorf("%q/%q: %v", c[0], c[1], err)
		}
	}
	for _, name := range []string{"Alice", "a/b", "..", "ünï", ""} {
		if _, err := a.CreateUser(ctx, name, meta.RoleUser, ""); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("name %q: %v", name, err)
		}
	}
	if _, err := a.CreateUser(ctx, "carol", "root", ""); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("bad role: %v", err)
	}
}

func TestEnsureAdmin(t *testing.T) {
	ctx := context.Background()
	a, store := newService(t)
	b, err := a.EnsureAdmin(ctx, "", "")
	if err != nil || !b.Created || b.Password == "" || len(b.Token) < 200 {
		t.Fatalf("first: %+v %v", b, err)
	}
	if p, err := a.CheckToken(ctx, b.Token); err != nil || !p.IsAdmin() {
		t.Fatalf("admin token: %+v %v", p, err)
	}
	if _, err := a.CheckPassword(ctx, "admin", b.Password); err != nil {
		t.Fatal(err)
	}
	again, err := a.EnsureAdmin(ctx, "", "")
	if err != nil || again.Created {
		t.Fatalf("second: %+v %v", again, err)
	}
	if n, _ := store.CountUsers(ctx); n != 1 {
		t.Fatalf("%d users", n)
	}
}

// Verify re-checks a principal a registry token carries: a revoked token,
// or a disabled account, ends it at the next request; a role change
// counts at once.
func TestVerify(t *testing.T) {
	a, store := newService(t)
	ctx := context.Background()
	u, err := a.CreateUser(ctx, "alice", meta.RoleUser, "pw")
	if err != nil {
		t.Fatal(err)
	}
	tok, rec, err := a.IssueToken(ctx, "alice", "laptop", 0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.CheckToken(ctx, tok)
	if err != nil || p.TokenID != rec.ID {
		t.Fatalf("%+v %v", p, err)
	}
	byPassword, err := a.CheckPassword(ctx, "alice", "pw")
	if err != nil || byPassword.TokenID != "" {
		t.Fatalf("%+v %v", byPassword, err)
	}
	u.Role = meta.RoleManager
	if err := store.UpdateUser(ctx, &u); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Verify(ctx, p); err != nil || got.Role != meta.RoleManager {
		t.Fatalf("role change: %+v %v", got, err)
	}
	if err := a.RevokeToken(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify(ctx, p); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("revoked: %v", err)
	}
	if _, err := a.Verify(ctx, byPassword); err != nil {
		t.Fatalf("password principal: %v", err)
	}
	if err := a.SetDisabled(ctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify(ctx, byPassword); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("disabled: %v", err)
	}
	forged := p
	forged.UserID = "someone-else"
	if _, err := a.Verify(ctx, forged); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("token of another user: %v", err)
	}
}
