// Package blobtest is the contract suite every blob.Store backend runs
// (filesystem, S3). It uses only the blob.Store interface, so a failure
// here is a contract violation, not an implementation detail.
package blobtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/blob"
)

// Harness describes a backend to the suite.
type Harness struct {
	// New returns an empty store for one subtest; subtests run in
	// parallel, each with its own store.
	New func(t *testing.T) blob.Store
	// Leftovers lists what the store holds besides committed blobs
	// (session files, temporary objects, unfinished multipart uploads),
	// in the backend's own terms. Finished sessions must leave none.
	Leftovers func(t *testing.T, s blob.Store) []string
	// Large is a content size that takes the backend's path for large
	// blobs (S3: several multipart parts); 0 means 3 MiB.
	Large int
}

// Run runs the contract suite on stores newStore makes.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	RunHarness(t, Harness{New: newStore})
}

// RunHarness runs the contract suite, with the checks the harness allows.
func RunHarness(t *testing.T, h Harness) {
	if h.Large <= 0 {
		h.Large = 3 << 20
	}
	for _, tc := range edgeTests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, h.New(t), h)
		})
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s blob.Store)
	}{
		{"WriteCommitStatOpen", testWriteCommitStatOpen},
		{"RangedRead", testRangedRead},
		{"EmptyBlob", testEmptyBlob},
		{"WrongDigest", testWrongDigest},
		{"WrongSize", testWrongSize},
		{"UnknownSize", testUnknownSize},
		{"CommitExisting", testCommitExisting},
		{"SHA512Session", testSHA512Session},
		{"SHA256SessionSHA512Expected", testCrossAlgorithm},
		{"UnsupportedAlgorithm", testUnsupportedAlgorithm},
		{"ResumeManyTimes", testResumeManyTimes},
		{"ResumeUnknown", testResumeUnknown},
		{"AbortUpload", testAbortUpload},
		{"Cancel", testCancel},
		{"AbandonedWriter", testAbandonedWriter},
		{"DeleteThenStat", testDeleteThenStat},
		{"Walk", testWalk},
		{"WalkStopsOnError", testWalkStopsOnError},
		{"ConcurrentSameDigest", testConcurrentSameDigest},
		{"MalformedDigests", testMalformedDigests},
		{"Ping", testPing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, h.New(t))
		})
	}
}

// content returns n deterministic pseudo-random bytes, different per seed.
func content(seed uint64, n int) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

// put writes data in one session and commits it under its sha256.
func put(t *testing.T, s blob.Store, data []byte) blob.Info {
	t.Helper()
	ctx := t.Context()
	w, err := s.NewUpload(ctx, "")
	if err != nil {
		t.Fatalf("NewUpload: %v", err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if got := w.Size(); got != int64(len(data)) {
		t.Fatalf("Size = %d, want %d", got, len(data))
	}
	d := digest.FromBytes(data)
	info, err := w.Commit(ctx, d, int64(len(data)))
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if info.Digest != d || info.Size != int64(len(data)) {
		t.Fatalf("Commit = %+v, want %s size %d", info, d, len(data))
	}
	return info
}

// readAll opens d and checks it holds want.
func readAll(t *testing.T, s blob.Store, d digest.Digest, want []byte) {
	t.Helper()
	rc, info, err := s.Open(t.Context(), d)
	if err != nil {
		t.Fatalf("Open(%s): %v", d, err)
	}
	defer rc.Close()
	if info.Digest != d || info.Size != int64(len(want)) {
		t.Errorf("Open info = %+v, want %s size %d", info, d, len(want))
	}
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", d, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("content of %s: got %d bytes (%s), want %d bytes", d, len(got), digest.FromBytes(got), len(want))
	}
}

func wantCode(t *testing.T, err error, code apperr.Code, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got nil error, want %s", what, code)
	}
	if !apperr.Is(err, code) {
		t.Fatalf("%s: got %v (code %s), want %s", what, err, apperr.CodeOf(err), code)
	}
}

// walk returns every committed blob.
func walk(t *testing.T, s blob.Store) map[digest.Digest]blob.Info {
	t.Helper()
	seen := map[digest.Digest]blob.Info{}
	err := s.Walk(t.Context(), func(i blob.Info) error {
		if _, dup := seen[i.Digest]; dup {
			t.Errorf("Walk reported %s twice", i.Digest)
		}
		seen[i.Digest] = i
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	return seen
}

// notVisible checks d is absent through every read path.
func notVisible(t *testing.T, s blob.Store, d digest.Digest) {
	t.Helper()
	ctx := t.Context()
	_, err := s.Stat(ctx, d)
	wantCode(t, err, apperr.NotFound, "Stat "+string(d))
	rc, _, err := s.Open(ctx, d)
	if err == nil {
		rc.Close()
	}
	wantCode(t, err, apperr.NotFound, "Open "+string(d))
	if _, ok := walk(t, s)[d]; ok {
		t.Fatalf("Walk lists %s", d)
	}
}

// noBlobs checks the store has no committed blob at all.
func noBlobs(t *testing.T, s blob.Store) {
	t.Helper()
	if all := walk(t, s); len(all) != 0 {
		t.Fatalf("Walk lists %d blobs, want none: %v", len(all), all)
	}
}

func testWriteCommitStatOpen(t *testing.T, s blob.Store) {
	data := content(1, 3<<20+17) // crosses buffer sizes, odd length
	info := put(t, s, data)
	st, err := s.Stat(t.Context(), info.Digest)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if st.Digest != info.Digest || st.Size != int64(len(data)) || st.ModTime.IsZero() {
		t.Fatalf("Stat = %+v, want %s size %d and a mod time", st, info.Digest, len(data))
	}
	readAll(t, s, info.Digest, data)
}

func testRangedRead(t *testing.T, s blob.Store) {
	data := content(2, 100_000)
	info := put(t, s, data)
	rc, _, err := s.Open(t.Context(), info.Digest)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	ranges := []struct {
		off    int64
		whence int
		pos    int64
		n      int
	}{
		{1000, io.SeekStart, 1000, 500},
		{-10, io.SeekEnd, int64(len(data)) - 10, 10},
		{0, io.SeekStart, 0, 1},
		{99_000, io.SeekStart, 99_000, 1000},
		{-500, io.SeekCurrent, 99_500, 500},
	}
	for _, r := range ranges {
		pos, err := rc.Seek(r.off, r.whence)
		if err != nil || pos != r.pos {
			t.Fatalf("Seek(%d, %d) = %d, %v; want %d", r.off, r.whence, pos, err, r.pos)
		}
		got := make([]byte, r.n)
		if _, err := io.ReadFull(rc, got); err != nil {
			t.Fatalf("read %d at %d: %v", r.n, pos, err)
		}
		if !bytes.Equal(got, data[pos:pos+int64(r.n)]) {
			t.Fatalf("bytes at %d..%d differ", pos, pos+int64(r.n))
		}
	}
	if _, err := rc.Seek(0, io.SeekEnd); err != nil {
		t.Fatalf("Seek end: %v", err)
	}
	if n, err := rc.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("read at end = %d, %v; want 0, EOF", n, err)
	}
}

func testEmptyBlob(t *testing.T, s blob.Store) {
	info := put(t, s, nil)
	if info.Digest != digest.FromBytes(nil) {
		t.Fatalf("empty digest = %s", info.Digest)
	}
	st, err := s.Stat(t.Context(), info.Digest)
	if err != nil || st.Size != 0 {
		t.Fatalf("Stat = %+v, %v; want size 0", st, err)
	}
	readAll(t, s, info.Digest, []byte{})
	if _, ok := walk(t, s)[info.Digest]; !ok {
		t.Fatalf("Walk misses the empty blob")
	}
}

func testDeleteThenStat(t *testing.T, s blob.Store) {
	ctx := t.Context()
	keep := put(t, s, content(3, 1000))
	gone := put(t, s, content(4, 1000))
	if err := s.Delete(ctx, gone.Digest); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	notVisible(t, s, gone.Digest)
	wantCode(t, s.Delete(ctx, gone.Digest), apperr.NotFound, "second Delete")
	wantCode(t, s.Delete(ctx, digest.FromString("never stored")), apperr.NotFound, "Delete unknown")
	readAll(t, s, keep.Digest, content(3, 1000))
	// A deleted digest can be stored again.
	put(t, s, content(4, 1000))
	readAll(t, s, gone.Digest, content(4, 1000))
}

func testWalk(t *testing.T, s blob.Store) {
	noBlobs(t, s)
	want := map[digest.Digest]int64{}
	for i := range 20 {
		data := content(uint64(100+i), i*37)
		want[put(t, s, data).Digest] = int64(len(data))
	}
	// A sha512 blob and an open session must not disturb the listing.
	w512, err := s.NewUpload(t.Context(), digest.SHA512)
	if err != nil {
		t.Fatalf("NewUpload sha512: %v", err)
	}
	w512.Write([]byte("sha512 blob"))
	d512 := digest.SHA512.FromString("sha512 blob")
	if _, err := w512.Commit(t.Context(), d512, -1); err != nil {
		t.Fatalf("Commit sha512: %v", err)
	}
	want[d512] = int64(len("sha512 blob"))
	open, err := s.NewUpload(t.Context(), "")
	if err != nil {
		t.Fatalf("NewUpload: %v", err)
	}
	defer open.Cancel(context.WithoutCancel(t.Context()))
	open.Write(content(999, 5000))

	got := walk(t, s)
	if len(got) != len(want) {
		t.Errorf("Walk listed %d blobs, want %d", len(got), len(want))
	}
	for d, size := range want {
		i, ok := got[d]
		if !ok {
			t.Errorf("Walk misses %s", d)
		} else if i.Size != size {
			t.Errorf("Walk size of %s = %d, want %d", d, i.Size, size)
		}
	}
}

func testWalkStopsOnError(t *testing.T, s blob.Store) {
	for i := range 3 {
		put(t, s, content(uint64(200+i), 10))
	}
	stop := errors.New("stop")
	calls := 0
	err := s.Walk(t.Context(), func(blob.Info) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("Walk = %v after %d calls; want the callback's error after 1", err, calls)
	}
}

func testPing(t *testing.T, s blob.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	noBlobs(t, s)
}
