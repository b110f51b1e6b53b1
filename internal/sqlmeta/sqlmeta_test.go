package sqlmeta_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/metatest"
	"github.com/silo-hpc/silo/internal/pgtest"
	"github.com/silo-hpc/silo/internal/sqlmeta"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestSQLite(t *testing.T) {
	metatest.Run(t, func(t *testing.T) meta.Store {
		s, err := sqlmeta.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "silo.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestPostgres(t *testing.T) {
	metatest.Run(t, func(t *testing.T) meta.Store {
		s, err := sqlmeta.OpenPostgres(context.Background(), pgtest.DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestReopen checks data survives a restart and migrations run once.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "silo.db")
	s, err := sqlmeta.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	metatest.MkUser(t, s, "alice")
	s.Close()
	s, err = sqlmeta.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetUserByName(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
}
