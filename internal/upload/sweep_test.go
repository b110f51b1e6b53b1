package upload_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/fsblob"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/sqlmeta"
	"github.com/silo-hpc/silo/internal/upload"
)

// The sweep ends expired sessions (row and bytes) and blob-store
// sessions no row knows of once they are old; live ones stay.
func TestSweepUploads(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ms, err := sqlmeta.OpenSQLite(ctx, filepath.Join(dir, "silo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	bs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	session := func(expires time.Time) (meta.Upload, string) {
		w, err := bs.NewUpload(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("partial upload"))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		u := meta.Upload{Kind: "oci", BlobUploadID: w.ID(), ExpiresAt: expires}
		if err := ms.CreateUpload(ctx, &u); err != nil {
			t.Fatal(err)
		}
		return u, w.ID()
	}
	old, oldBlob := session(now.Add(-time.Minute))
	live, liveBlob := session(now.Add(time.Hour))
	// A blob-store session no row knows of, idle for three days (a crash
	// between opening it and recording it).
	orphan, err := bs.NewUpload(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	orphan.Close()
	aged := now.Add(-72 * time.Hour)
	for _, suffix := range []string{".data", ".state"} {
		if err := os.Chtimes(filepath.Join(dir, "blobs", "uploads", orphan.ID()+suffix), aged, aged); err != nil {
			t.Fatal(err)
		}
	}

	s := upload.New(ms, bs, slog.New(slog.NewTextHandler(io.Discard, nil)), upload.Config{})
	n, err := s.Sweep(ctx)
	if err != nil || n != 2 {
		t.Fatalf("swept %d (%v), want the expired session and the orphan", n, err)
	}
	if _, err := ms.GetUpload(ctx, old.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("expired row kept: %v", err)
	}
	for id, want := range map[string]apperr.Code{oldBlob: apperr.NotFound, orphan.ID(): apperr.NotFound} {
		if _, err := bs.ResumeUpload(ctx, id, nil); !apperr.Is(err, want) {
			t.Fatalf("session %s: %v", id, err)
		}
	}
	if _, err := ms.GetUpload(ctx, live.ID); err != nil {
		t.Fatalf("live row removed: %v", err)
	}
	w, err := bs.ResumeUpload(ctx, liveBlob, nil)
	if err != nil || w.Size() != int64(len("partial upload")) {
		t.Fatalf("live session damaged: %v", err)
	}
	w.Close()
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("second sweep ended %d (%v)", n, err)
	}
}
