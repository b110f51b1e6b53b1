package fsblob

import (
	"bytes"
	"encoding/binary"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/blobtest"
)

func TestContract(t *testing.T) {
	blobtest.RunHarness(t, blobtest.Harness{
		New: func(t *testing.T) blob.Store { return newStore(t, t.TempDir()) },
		Leftovers: func(t *testing.T, s blob.Store) []string {
			return files(t, s.(*Store).uploads)
		},
	})
}

func newStore(t *testing.T, root string) *Store {
	t.Helper()
	s, err := New(root)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func randomBytes(seed uint64, n int) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

// files lists the regular files under dir, relative to it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return err
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return out
}

func dataPath(t *testing.T, s *Store, id string) string {
	t.Helper()
	base, err := s.uploadPath(id)
	if err != nil {
		t.Fatalf("uploadPath(%q): %v", id, err)
	}
	return base + dataSuffix
}

func TestLayout(t *testing.T) {
	root := t.TempDir()
	s := newStore(t, root)
	data := []byte("layout")
	w, _ := s.NewUpload(t.Context(), "")
	w.Write(data)
	d := digest.FromBytes(data)
	if _, err := w.Commit(t.Context(), d, -1); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	want := filepath.Join("blobs", "sha256", d.Encoded()[:2], d.Encoded())
	if got := files(t, root); len(got) != 1 || got[0] != want {
		t.Fatalf("files = %v, want [%s]", got, want)
	}
}

// TestResumeAfterCrashMidWrite: the data file holds more than the saved
// state covers, as when a process dies between flushing data and Close.
// A fresh Store (another process) must resume where the state says.
func TestResumeAfterCrashMidWrite(t *testing.T) {
	root := t.TempDir()
	ctx := t.Context()
	data := randomBytes(1, 6<<20+123)
	first := newStore(t, root)

	w, err := first.NewUpload(ctx, "")
	if err != nil {
		t.Fatalf("NewUpload: %v", err)
	}
	w.Write(data[:1<<20])
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	w, err = first.ResumeUpload(ctx, w.ID(), nil)
	if err != nil {
		t.Fatalf("ResumeUpload: %v", err)
	}
	// Never closed: the data reaches the file, the state still says 1 MiB.
	w.Write(data[1<<20 : 4<<20])
	if err := w.(*writer).flush(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dataPath(t, first, w.ID()))
	if err != nil || fi.Size() <= 1<<20 {
		t.Fatalf("data file = %v, %v; want more than the 1 MiB the state covers", fi, err)
	}

	second := newStore(t, root)
	r, err := second.ResumeUpload(ctx, w.ID(), nil)
	if err != nil {
		t.Fatalf("ResumeUpload after crash: %v", err)
	}
	if r.Size() != 1<<20 {
		t.Fatalf("resumed at %d, want %d", r.Size(), 1<<20)
	}
	r.Write(data[1<<20:])
	d := digest.FromBytes(data)
	if _, err := r.Commit(ctx, d, int64(len(data))); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	assertContent(t, second, d, data)
}

// TestResumeDataShorterThanState: a crash lost data the state says was
// written. The session is rehashed from what is on disk.
func TestResumeDataShorterThanState(t *testing.T) {
	ctx := t.Context()
	s := newStore(t, t.TempDir())
	data := randomBytes(2, 3<<20)
	w, _ := s.NewUpload(ctx, "")
	w.Write(data[:2<<20])
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	const kept = 1<<20 + 5
	if err := os.Truncate(dataPath(t, s, w.ID()), kept); err != nil {
		t.Fatal(err)
	}
	r, err := s.ResumeUpload(ctx, w.ID(), nil)
	if err != nil {
		t.Fatalf("ResumeUpload: %v", err)
	}
	if r.Size() != kept {
		t.Fatalf("resumed at %d, want %d", r.Size(), kept)
	}
	r.Write(data[kept:])
	d := digest.FromBytes(data)
	if _, err := r.Commit(ctx, d, int64(len(data))); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	assertContent(t, s, d, data)
}

// TestAbandonedWriterOnDisk: a writer killed mid-stream leaves only its
// session under uploads/, and nothing anywhere under blobs/.
func TestAbandonedWriterOnDisk(t *testing.T) {
	root := t.TempDir()
	s := newStore(t, root)
	w, _ := s.NewUpload(t.Context(), "")
	w.Write(randomBytes(3, 3<<20))
	if got := files(t, filepath.Join(root, "blobs")); len(got) != 0 {
		t.Fatalf("blobs/ holds %v", got)
	}
	// Never closed, the session has no state yet: only its data.
	got := files(t, filepath.Join(root, "uploads"))
	if len(got) != 1 {
		t.Fatalf("uploads/ holds %v, want one session's data", got)
	}
}

// TestMalformedDigestKeepsSession: a typo in the digest must not throw
// away an upload; the session stays resumable.
func TestMalformedDigestKeepsSession(t *testing.T) {
	ctx := t.Context()
	s := newStore(t, t.TempDir())
	data := randomBytes(4, 100_000)
	w, _ := s.NewUpload(ctx, "")
	w.Write(data)
	_, err := w.Commit(ctx, "sha256:nope", -1)
	if !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("Commit(malformed) = %v, want Invalid", err)
	}
	r, err := s.ResumeUpload(ctx, w.ID(), nil)
	if err != nil {
		t.Fatalf("ResumeUpload: %v", err)
	}
	if r.Size() != int64(len(data)) {
		t.Fatalf("resumed at %d, want %d", r.Size(), len(data))
	}
	if _, err := r.Commit(ctx, digest.FromBytes(data), -1); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func TestWalkSkipsStrayFiles(t *testing.T) {
	root := t.TempDir()
	s := newStore(t, root)
	w, _ := s.NewUpload(t.Context(), "")
	w.Write([]byte("real"))
	d := digest.FromString("real")
	if _, err := w.Commit(t.Context(), d, -1); err != nil {
		t.Fatal(err)
	}
	other := digest.FromString("other").Encoded()
	for _, p := range []string{
		"blobs/sha256/README",
		"blobs/sha256/zz/" + other, // wrong shard
		"blobs/sha256/" + other,    // no shard
		"blobs/md5/ab/abcdef",
	} {
		p = filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var seen []digest.Digest
	s.Walk(t.Context(), func(i blob.Info) error { seen = append(seen, i.Digest); return nil })
	if len(seen) != 1 || seen[0] != d {
		t.Fatalf("Walk = %v, want [%s]", seen, d)
	}
}

func TestPurgeUploads(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	s := newStore(t, root)
	stale, _ := s.NewUpload(ctx, "")
	stale.Write([]byte("stale"))
	stale.Close()
	fresh, _ := s.NewUpload(ctx, "")
	fresh.Write([]byte("fresh"))
	fresh.Close()
	committed := randomBytes(5, 100)
	w, _ := s.NewUpload(ctx, "")
	w.Write(committed)
	d := digest.FromBytes(committed)
	if _, err := w.Commit(ctx, d, -1); err != nil {
		t.Fatal(err)
	}
	// Age the stale session instead of sleeping.
	old := time.Now().Add(-2 * time.Hour)
	base, _ := s.uploadPath(stale.ID())
	for _, p := range []string{base + dataSuffix, base + stateSuffix} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(filepath.Join(root, "uploads", "not-a-session"), 0o755)
	// A session of the previous layout, a directory, is purged too.
	legacy := filepath.Join(root, "uploads", strings.Repeat("ab", idBytes))
	os.Mkdir(legacy, 0o755)
	os.WriteFile(filepath.Join(legacy, "data"), []byte("x"), 0o644)
	os.Chtimes(legacy, old, old)

	n, err := s.PurgeUploads(ctx, time.Hour)
	if err != nil || n != 2 {
		t.Fatalf("PurgeUploads = %d, %v; want 2", n, err)
	}
	if _, err := os.Stat(legacy); !os.IsNotExist(err) {
		t.Fatalf("legacy session: %v", err)
	}
	if _, err := s.ResumeUpload(ctx, stale.ID(), nil); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("stale session: ResumeUpload = %v, want NotFound", err)
	}
	r, err := s.ResumeUpload(ctx, fresh.ID(), nil)
	if err != nil || r.Size() != 5 {
		t.Fatalf("fresh session: ResumeUpload = %v; want it kept", err)
	}
	r.Close()
	if _, err := s.Stat(ctx, d); err != nil {
		t.Fatalf("committed blob after purge: %v", err)
	}
	if n, err := s.PurgeUploads(ctx, 0); err != nil || n != 1 {
		t.Fatalf("PurgeUploads(0) = %d, %v; want the fresh session purged", n, err)
	}
}

func TestPingUnwritable(t *testing.T) {
	s := newStore(t, t.TempDir())
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	s.root = filepath.Join(s.root, "gone")
	if err := s.Ping(t.Context()); !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("Ping on a missing root = %v, want Unavailable", err)
	}
}

func assertContent(t *testing.T, s *Store, d digest.Digest, want []byte) {
	t.Helper()
	rc, _, err := s.Open(t.Context(), d)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	got := new(bytes.Buffer)
	if _, err := got.ReadFrom(rc); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) || digest.FromBytes(got.Bytes()) != d {
		t.Fatalf("content of %s differs (%d bytes, want %d)", d, got.Len(), len(want))
	}
}

// After a failed flush, Size must be what the session really holds (what
// ResumeUpload continues from), not what Write accepted: callers record
// it as the offset the client resumes at.
func TestSizeAfterFailedFlush(t *testing.T) {
	s := newStore(t, t.TempDir())
	bw, err := s.NewUpload(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	w := bw.(*writer)
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	w.sink.f.Close()
	w.sink.f = full // every write fails with ENOSPC
	if _, err := w.Write(bytes.Repeat([]byte("x"), 3*bufSize/2)); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after a failed write succeeded")
	}
	r, err := s.ResumeUpload(t.Context(), w.ID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Cancel(t.Context())
	if w.Size() != r.Size() {
		t.Fatalf("Size after failed Close is %d, the session resumes at %d", w.Size(), r.Size())
	}
}
