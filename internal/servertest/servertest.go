// Package servertest starts the real composed Silo server on a loopback
// port for tests: the same stores, services and transports `silo serve`
// builds, on a temporary data directory.
package servertest

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/config"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
	"github.com/silo-hpc/silo/internal/pgtest"
	"github.com/silo-hpc/silo/internal/server"
)

// Server is a running in-process Silo.
type Server struct {
	*server.Server
	URL    string // http://127.0.0.1:port
	Host   string // 127.0.0.1:port, as image references name it
	Config config.Config
}

// Start starts a server; edit adjusts the configuration first.
func Start(t testing.TB, edit ...func(*config.Config)) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Addr = "127.0.0.1:0"
	// SILO_TEST_POSTGRES=1 runs every test server on a fresh PostgreSQL
	// database instead of SQLite (CI does both). Packages using it call
	// pgtest.Main from TestMain so the cluster stops afterwards.
	if os.Getenv("SILO_TEST_POSTGRES") == "1" {
		cfg.Database = pgtest.DSN(t)
	}
	for _, f := range edit {
		f(&cfg)
	}
	svc, err := server.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(svc)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		svc.Close()
	})
	return &Server{Server: srv, URL: ts.URL, Host: strings.TrimPrefix(ts.URL, "http://"), Config: cfg}
}

// User creates a user with password "<name>-password" and returns the
// password and a fresh API token.
func (s *Server) User(t testing.TB, name string, role meta.Role) (password, token string) {
	t.Helper()
	ctx := context.Background()
	password = name + "-password"
	if _, err := s.Auth.CreateUser(ctx, name, role, password); err != nil {
		t.Fatal(err)
	}
	token, _, err := s.Auth.IssueToken(ctx, name, "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	return password, token
}

// Stored lists the committed blobs, but the {} config every SIF artifact
// shares (stored at start), and counts the blob store's upload sessions
// left in the data directory: what a refused or abandoned upload must not
// leave behind.
func (s *Server) Stored(t testing.TB) (blobs []string, sessions int) {
	t.Helper()
	err := s.Blobs.Walk(context.Background(), func(i blob.Info) error {
		if i.Digest != oci.EmptyJSONDigest {
			blobs = append(blobs, i.Digest.String())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(s.Config.BlobDir(), "uploads"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return blobs, len(entries)
}
