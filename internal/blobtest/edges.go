package blobtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/blob"
)

// The checks below make explicit what fsblob's behaviour only implied:
// reads at the edges of a blob, what finished sessions leave behind,
// purging idle sessions, large commits racing on one digest, resuming a
// state again after requests that were never recorded, and announced
// digests.
var edgeTests = []struct {
	name string
	fn   func(t *testing.T, s blob.Store, h Harness)
}{
	{"RangedReadEdges", testRangedReadEdges},
	{"NoLeftovers", testNoLeftovers},
	{"PurgeUploads", testPurgeUploads},
	{"ConcurrentSameDigestLarge", testConcurrentSameDigestLarge},
	{"LargeResume", testLargeResume},
	{"ResumeUnrecordedState", testResumeUnrecordedState},
	{"Expect", testExpect},
}

// resume reopens a session from state and checks where it stands.
func resume(t *testing.T, s blob.Store, id string, state []byte, at int64) blob.Writer {
	t.Helper()
	w, err := s.ResumeUpload(t.Context(), id, state)
	if err != nil {
		t.Fatalf("ResumeUpload: %v", err)
	}
	if w.Size() != at {
		t.Fatalf("resumed at %d, want %d", w.Size(), at)
	}
	return w
}

// write writes p and fails the test on error.
func write(t *testing.T, w blob.Writer, p []byte) {
	t.Helper()
	if _, err := w.Write(p); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// closed closes w and returns its state.
func closed(t *testing.T, w blob.Writer) []byte {
	t.Helper()
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return w.State()
}

func noLeftovers(t *testing.T, s blob.Store, h Harness, after string) {
	t.Helper()
	if h.Leftovers == nil {
		return
	}
	if left := h.Leftovers(t, s); len(left) > 0 {
		t.Fatalf("after %s the store still holds %v", after, left)
	}
}

func testRangedReadEdges(t *testing.T, s blob.Store, h Harness) {
	for _, n := range []int{0, 1, 70_000, h.Large} {
		data := content(uint64(30+n%7), n)
		d := put(t, s, data).Digest
		t.Run(fmt.Sprint(n), func(t *testing.T) { readEdges(t, s, d, data) })
	}
}

func readEdges(t *testing.T, s blob.Store, d digest.Digest, data []byte) {
	rc, info, err := s.Open(t.Context(), d)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	size := int64(len(data))
	if info.Size != size {
		t.Fatalf("Open size = %d, want %d", info.Size, size)
	}
	seek := func(off int64, whence int, want int64) {
		t.Helper()
		if pos, err := rc.Seek(off, whence); err != nil || pos != want {
			t.Fatalf("Seek(%d, %d) = %d, %v; want %d", off, whence, pos, err, want)
		}
	}
	atEOF := func() {
		t.Helper()
		if n, err := rc.Read(make([]byte, 16)); n != 0 || err != io.EOF {
			t.Fatalf("read past the end = %d, %v; want 0, EOF", n, err)
		}
	}
	if _, err := rc.Seek(-1, io.SeekStart); err == nil {
		t.Fatalf("Seek to -1 succeeded")
	}
	seek(0, io.SeekEnd, size)
	atEOF()
	seek(size+10, io.SeekStart, size+10)
	atEOF()
	if size == 0 {
		return
	}
	seek(-1, io.SeekEnd, size-1)
	last := make([]byte, 16)
	if n, err := io.ReadFull(rc, last); n != 1 || err != io.ErrUnexpectedEOF || last[0] != data[size-1] {
		t.Fatalf("reading the last byte = %d, %v (%x); want 1 byte %x", n, err, last[:n], data[size-1])
	}
	atEOF()
	seek(0, io.SeekStart, 0)
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("reading from 0 after EOF: %d bytes, %v", len(got), err)
	}
	if size < 3 {
		return
	}
	mid := size / 2
	seek(mid, io.SeekStart, mid)
	two := make([]byte, 2)
	io.ReadFull(rc, two)
	seek(-2, io.SeekCurrent, mid)
	again := make([]byte, 2)
	if _, err := io.ReadFull(rc, again); err != nil || !bytes.Equal(two, again) || !bytes.Equal(two, data[mid:mid+2]) {
		t.Fatalf("re-reading at %d: %x then %x, want %x (%v)", mid, two, again, data[mid:mid+2], err)
	}
}

// commitLarge writes data in chunk-sized requests, each resuming the
// session from the state the previous one saved, and commits it.
func commitLarge(ctx context.Context, s blob.Store, data []byte, chunk int) (blob.Info, error) {
	w, err := s.NewUpload(ctx, "")
	if err != nil {
		return blob.Info{}, err
	}
	for off := 0; off < len(data); off += chunk {
		if off > 0 {
			if err := w.Close(); err != nil {
				return blob.Info{}, err
			}
			if w, err = s.ResumeUpload(ctx, w.ID(), w.State()); err != nil {
				return blob.Info{}, err
			}
		}
		if _, err := w.Write(data[off:min(off+chunk, len(data))]); err != nil {
			return blob.Info{}, err
		}
	}
	return w.Commit(ctx, digest.FromBytes(data), int64(len(data)))
}

func testNoLeftovers(t *testing.T, s blob.Store, h Harness) {
	ctx := t.Context()
	data := content(40, h.Large+12345)
	if _, err := commitLarge(ctx, s, data, 1<<20+3); err != nil {
		t.Fatalf("chunked commit: %v", err)
	}
	noLeftovers(t, s, h, "a chunked commit")
	if _, err := commitLarge(ctx, s, data, 2<<20); err != nil {
		t.Fatalf("second chunked commit of the same content: %v", err)
	}
	noLeftovers(t, s, h, "a duplicate commit")

	other := content(41, h.Large)
	w := started(t, s, "", other)
	st := closed(t, w)
	if err := s.AbortUpload(ctx, w.ID(), st); err != nil {
		t.Fatalf("AbortUpload: %v", err)
	}
	noLeftovers(t, s, h, "AbortUpload")

	w = started(t, s, "", other)
	w = resume(t, s, w.ID(), closed(t, w), int64(len(other)))
	write(t, w, other)
	if err := w.Cancel(ctx); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	noLeftovers(t, s, h, "Cancel of a resumed session")

	w = started(t, s, "", other)
	w = resume(t, s, w.ID(), closed(t, w), int64(len(other)))
	_, err := w.Commit(ctx, digest.FromString("not this"), -1)
	wantCode(t, err, apperr.Invalid, "Commit with a wrong digest")
	noLeftovers(t, s, h, "a rejected commit")

	w = started(t, s, "", other)
	if _, err := w.Commit(ctx, digest.SHA512.FromBytes(other), int64(len(other))); err != nil {
		t.Fatalf("sha256 session committed under sha512: %v", err)
	}
	noLeftovers(t, s, h, "a commit in another algorithm")

	if all := walk(t, s); len(all) != 2 {
		t.Fatalf("Walk lists %d blobs, want 2: %v", len(all), all)
	}
	readAll(t, s, digest.FromBytes(data), data)
}

// purger is the optional capability of removing idle sessions.
type purger interface {
	PurgeUploads(ctx context.Context, olderThan time.Duration) (int, error)
}

func testPurgeUploads(t *testing.T, s blob.Store, h Harness) {
	p, ok := s.(purger)
	if !ok {
		t.Skip("the store does not purge sessions")
	}
	ctx := t.Context()
	kept := put(t, s, content(50, 1000))
	big := content(51, h.Large+1)
	a := started(t, s, "", big)
	aState := closed(t, a)
	b := started(t, s, "", content(52, 10))
	bState := closed(t, b)
	if n, err := p.PurgeUploads(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("PurgeUploads(1h) = %d, %v; want 0", n, err)
	}
	a = resume(t, s, a.ID(), aState, int64(len(big)))
	aState = closed(t, a)
	resume(t, s, b.ID(), bState, 10).Close()
	n, err := p.PurgeUploads(ctx, 0)
	if err != nil || n < 2 {
		t.Fatalf("PurgeUploads(0) = %d, %v; want both sessions purged", n, err)
	}
	sessionGone(t, s, a.ID(), aState)
	sessionGone(t, s, b.ID(), bState)
	noLeftovers(t, s, h, "PurgeUploads")
	readAll(t, s, kept.Digest, content(50, 1000))
}

func testConcurrentSameDigestLarge(t *testing.T, s blob.Store, h Harness) {
	const writers = 4
	data := content(60, h.Large+7)
	d := digest.FromBytes(data)
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			info, err := commitLarge(t.Context(), s, data, 1<<20+i)
			if err == nil && (info.Digest != d || info.Size != int64(len(data))) {
				err = fmt.Errorf("Commit = %+v", info)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if all := walk(t, s); len(all) != 1 {
		t.Fatalf("Walk = %v, want only %s", all, d)
	}
	readAll(t, s, d, data)
	noLeftovers(t, s, h, "concurrent commits")
}

func testLargeResume(t *testing.T, s blob.Store, h Harness) {
	ctx := t.Context()
	sizes := []int{7, 1<<20 + 1, 0, h.Large / 2, 3, h.Large, 2 << 20, 11}
	var data []byte
	w, err := s.NewUpload(ctx, "")
	if err != nil {
		t.Fatalf("NewUpload: %v", err)
	}
	for i, n := range sizes {
		c := content(uint64(70+i), n)
		if i > 0 {
			w = resume(t, s, w.ID(), closed(t, w), int64(len(data)))
		}
		write(t, w, c)
		data = append(data, c...)
	}
	w = resume(t, s, w.ID(), closed(t, w), int64(len(data)))
	d := digest.FromBytes(data)
	if _, err := w.Commit(ctx, d, int64(len(data))); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	readAll(t, s, d, data)
	noLeftovers(t, s, h, "a large resumed upload")
}

// testResumeUnrecordedState resumes a state again after a request whose
// new state was never recorded (it failed after Close, or its replica
// died): the session must continue from the recorded state, ignoring
// whatever that request stored.
func testResumeUnrecordedState(t *testing.T, s blob.Store, h Harness) {
	ctx := t.Context()
	first := content(80, h.Large/2+5)
	lost := content(81, h.Large)
	second := content(82, h.Large+9)
	w := started(t, s, "", first)
	recorded := closed(t, w)
	w = resume(t, s, w.ID(), recorded, int64(len(first)))
	write(t, w, lost)
	closed(t, w) // never recorded
	w = resume(t, s, w.ID(), recorded, int64(len(first)))
	write(t, w, second)
	w = resume(t, s, w.ID(), closed(t, w), int64(len(first)+len(second)))
	data := append(append([]byte{}, first...), second...)
	d := digest.FromBytes(data)
	if _, err := w.Commit(ctx, d, int64(len(data))); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	readAll(t, s, d, data)
	noLeftovers(t, s, h, "a session resumed from an earlier state")
}

func testExpect(t *testing.T, s blob.Store, h Harness) {
	ctx := t.Context()
	probe, err := s.NewUpload(ctx, "")
	if err != nil {
		t.Fatalf("NewUpload: %v", err)
	}
	probe.Cancel(ctx)
	if _, ok := probe.(blob.Expecter); !ok {
		t.Skip("the store's writers take no announced digest")
	}
	data := content(90, h.Large+3)
	d := digest.FromBytes(data)
	expecting := func(p []byte) blob.Writer {
		w, err := s.NewUpload(ctx, "")
		if err != nil {
			t.Fatalf("NewUpload: %v", err)
		}
		w.(blob.Expecter).Expect(d)
		half := len(p) / 2
		write(t, w, p[:half])
		w = resume(t, s, w.ID(), closed(t, w), int64(half))
		write(t, w, p[half:])
		return w
	}
	// Content that is not what was announced: nothing appears.
	wrong := content(91, h.Large+3)
	_, err = expecting(wrong).Commit(ctx, d, -1)
	wantCode(t, err, apperr.Invalid, "Commit of other content than announced")
	notVisible(t, s, d)
	notVisible(t, s, digest.FromBytes(wrong))
	// Committed under another digest than announced, even a right one.
	_, err = expecting(wrong).Commit(ctx, digest.FromBytes(wrong), -1)
	wantCode(t, err, apperr.Invalid, "Commit under another digest than announced")
	noBlobs(t, s)
	noLeftovers(t, s, h, "rejected announced commits")

	if _, err := expecting(data).Commit(ctx, d, int64(len(data))); err != nil {
		t.Fatalf("Commit as announced: %v", err)
	}
	if _, err := expecting(data).Commit(ctx, d, int64(len(data))); err != nil {
		t.Fatalf("Commit as announced, again: %v", err)
	}
	_, err = expecting(wrong).Commit(ctx, d, -1)
	wantCode(t, err, apperr.Invalid, "Commit of other content over an existing blob")
	readAll(t, s, d, data)
	noLeftovers(t, s, h, "announced commits")
}
