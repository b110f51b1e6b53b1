package auth

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/sqlmeta"
)

// Every way a password check fails costs exactly one argon2id hash, so
// timing tells neither which user names exist nor which are disabled.
// Counted, not timed: timed unit tests are flaky on a loaded machine.
func TestEveryFailedPasswordCostsOneHash(t *testing.T) {
	ctx := context.Background()
	store, err := sqlmeta.OpenSQLite(ctx, filepath.Join(t.TempDir(), "silo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	s := New(store)
	if _, err := s.CreateUser(ctx, "alice", meta.RoleUser, "pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, "bob", meta.RoleUser, "pw"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDisabled(ctx, "bob", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, "tokenonly", meta.RoleUser, ""); err != nil {
		t.Fatal(err)
	}
	calls := 0
	verifyPassword = func(hash, password string) (bool, error) {
		calls++
		return VerifyPassword(hash, password)
	}
	t.Cleanup(func() { verifyPassword = VerifyPassword })
	for _, name := range []string{"alice", "nobody", "bob", "tokenonly"} {
		calls = 0
		if _, err := s.CheckPassword(ctx, name, "guess"); err == nil {
			t.Fatalf("%s: guess accepted", name)
		}
		if calls != 1 {
			t.Errorf("%s: %d password hashes, want 1", name, calls)
		}
	}
}
