package gc_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/fsblob"
	"github.com/silo-hpc/silo/internal/gc"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/sqlmeta"
	"github.com/silo-hpc/silo/internal/upload"
)

type env struct {
	t     *testing.T
	meta  *sqlmeta.Store
	blobs *fsblob.Store
	up    *upload.Service
	log   *slog.Logger
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	ms, err := sqlmeta.OpenSQLite(context.Background(), filepath.Join(dir, "silo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	bs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return &env{t: t, meta: ms, blobs: bs, up: upload.New(ms, bs, log, upload.Config{}), log: log}
}

// collector returns a collector whose clock runs ahead by skew: with
// skew beyond the grace, everything stored so far is old enough.
func (e *env) collector(skew time.Duration, keep ...digest.Digest) *gc.Collector {
	return gc.NewCollector(e.meta, e.blobs, e.log, gc.CollectorConfig{Grace: time.Hour, Keep: keep,
		Now: func() time.Time { return time.Now().Add(skew) }})
}

// put stores content through the upload service, as pushes do.
func (e *env) put(content string) digest.Digest {
	e.t.Helper()
	d := digest.FromString(content)
	if _, err := e.up.Put(context.Background(), bytes.NewReader([]byte(content)), -1, d, -1); err != nil {
		e.t.Fatal(err)
	}
	return d
}

// stray stores content in the blob store alone, as a crash between
// storing and recording would leave it.
func (e *env) stray(content string) digest.Digest {
	e.t.Helper()
	ctx := context.Background()
	w, err := e.blobs.NewUpload(ctx, "")
	if err != nil {
		e.t.Fatal(err)
	}
	w.Write([]byte(content))
	d := digest.FromString(content)
	if _, err := w.Commit(ctx, d, -1); err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *env) stored(d digest.Digest) bool {
	_, err := e.blobs.Stat(context.Background(), d)
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		e.t.Fatal(err)
	}
	return err == nil
}

func (e *env) collect(c *gc.Collector, dry bool) gc.Report {
	e.t.Helper()
	r, err := c.Collect(context.Background(), gc.Options{DryRun: dry, Grace: -1})
	if err != nil {
		e.t.Fatalf("Collect: %v", err)
	}
	return r
}

func TestCollect(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	repo := meta.Repository{Name: "r"}
	if err := e.meta.CreateRepository(ctx, &repo); err != nil {
		t.Fatal(err)
	}
	used, loose, kept, orphan := e.put("used"), e.put("loose bytes"), e.stray("{}"), e.stray("orphan!")
	for _, d := range []digest.Digest{used, loose} {
		if err := e.meta.LinkBlob(ctx, repo.ID, d.String()); err != nil {
			t.Fatal(err)
		}
	}
	m := meta.Manifest{RepositoryID: repo.ID, Digest: "sha256:m", MediaType: "x", Content: []byte("m")}
	if err := e.meta.PutManifest(ctx, &m, []string{used.String()}); err != nil {
		t.Fatal(err)
	}

	if r := e.collect(e.collector(0, kept), false); r.Blobs+r.Orphans+r.Links != 0 {
		t.Fatalf("within the grace period: %+v", r)
	}
	old := e.collector(2*time.Hour, kept)
	dry := e.collect(old, true)
	want := gc.Report{DryRun: true, Grace: time.Hour, Blobs: 1, Bytes: int64(len("loose bytes")), Orphans: 1,
		OrphanBytes: int64(len("orphan!")), Links: 1}
	dry.Duration = 0
	if dry != want {
		t.Fatalf("dry run = %+v, want %+v", dry, want)
	}
	if !e.stored(loose) || !e.stored(orphan) {
		t.Fatal("a dry run removed something")
	}
	r := e.collect(old, false)
	if r.Blobs != 1 || r.Orphans != 1 || r.Bytes != int64(len("loose bytes")) || r.OrphanBytes != int64(len("orphan!")) {
		t.Fatalf("run = %+v", r)
	}
	if e.stored(loose) || e.stored(orphan) || !e.stored(used) || !e.stored(kept) {
		t.Fatalf("after the run: loose %v orphan %v used %v kept %v", e.stored(loose), e.stored(orphan), e.stored(used), e.stored(kept))
	}
	if st := old.Stats(); st.Runs.Load() != 1 || st.Bytes.Load() != r.Bytes+r.OrphanBytes || st.Blobs.Load() != 2 {
		t.Fatalf("stats: runs %d bytes %d blobs %d", st.Runs.Load(), st.Bytes.Load(), st.Blobs.Load())
	}
	if again := e.collect(old, false); again.Blobs+again.Orphans != 0 {
		t.Fatalf("second run = %+v", again)
	}
	// The collected blob comes back with a new upload.
	e.put("loose bytes")
	if !e.stored(loose) {
		t.Fatal("not stored again")
	}
	if err := e.meta.LinkBlob(ctx, repo.ID, loose.String()); err != nil {
		t.Fatalf("link after a new upload: %v", err)
	}
}

// A collector that died after claiming a blob: the next run finishes the
// removal, and until then a push of that blob takes the claim over.
func TestResumeAndTakeOver(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, b := e.put("a"), e.put("b")
	future := time.Now().Add(2 * time.Hour)
	for _, d := range []digest.Digest{a, b} {
		if ok, err := e.meta.MarkBlobDeleting(ctx, d.String(), future); !ok || err != nil {
			t.Fatalf("claim: %v %v", ok, err)
		}
	}
	e.put("b") // no collector runs: the claim is taken over
	r := e.collect(e.collector(0), false)
	if r.Resumed != 1 || e.stored(a) || !e.stored(b) {
		t.Fatalf("run = %+v; a stored %v, b stored %v", r, e.stored(a), e.stored(b))
	}
}

func TestOneCollectorAtATime(t *testing.T) {
	e := newEnv(t)
	unlock, ok, err := e.meta.LockCollector(context.Background())
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	defer unlock()
	if r := e.collect(e.collector(0), false); !r.Skipped {
		t.Fatalf("ran beside another collector: %+v", r)
	}
}

var _ blob.Store = (*fsblob.Store)(nil)
