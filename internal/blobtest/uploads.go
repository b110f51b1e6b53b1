package blobtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/blob"
)

// started writes data into a new session and returns it uncommitted.
func started(t *testing.T, s blob.Store, alg digest.Algorithm, data []byte) blob.Writer {
	t.Helper()
	w, err := s.NewUpload(t.Context(), alg)
	if err != nil {
		t.Fatalf("NewUpload(%q): %v", alg, err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return w
}

// sessionGone checks a session can no longer be resumed, with the last
// state it saved (nil if it never closed) or without one.
func sessionGone(t *testing.T, s blob.Store, id string, state []byte) {
	t.Helper()
	for _, st := range [][]byte{state, nil} {
		w, err := s.ResumeUpload(t.Context(), id, st)
		if err == nil {
			w.Cancel(t.Context())
		}
		wantCode(t, err, apperr.NotFound, "ResumeUpload of a finished session")
	}
}

// failedCommit checks that a commit rejected as Invalid leaves nothing.
func failedCommit(t *testing.T, s blob.Store, data []byte, expected digest.Digest, size int64) {
	t.Helper()
	w := started(t, s, "", data)
	_, err := w.Commit(t.Context(), expected, size)
	wantCode(t, err, apperr.Invalid, fmt.Sprintf("Commit(%.20s…, %d) of %d bytes", expected, size, len(data)))
	sessionGone(t, s, w.ID(), w.State())
	notVisible(t, s, digest.FromBytes(data))
	notVisible(t, s, expected)
	noBlobs(t, s)
}

func testWrongDigest(t *testing.T, s blob.Store) {
	data := content(10, 70_000)
	failedCommit(t, s, data, digest.FromString("something else"), -1)
	failedCommit(t, s, data, digest.FromString("something else"), int64(len(data)))
	failedCommit(t, s, data, digest.SHA512.FromString("something else"), -1)
}

func testWrongSize(t *testing.T, s blob.Store) {
	data := content(11, 70_000)
	d := digest.FromBytes(data)
	failedCommit(t, s, data, d, int64(len(data))+1)
	failedCommit(t, s, data, d, int64(len(data))-1)
	failedCommit(t, s, data, d, 0)
}

func testUnknownSize(t *testing.T, s blob.Store) {
	data := content(12, 5000)
	w := started(t, s, "", data)
	info, err := w.Commit(t.Context(), digest.FromBytes(data), -1)
	if err != nil {
		t.Fatalf("Commit with size -1: %v", err)
	}
	if info.Size != int64(len(data)) {
		t.Fatalf("Commit size = %d, want %d", info.Size, len(data))
	}
	readAll(t, s, info.Digest, data)
}

func testCommitExisting(t *testing.T, s blob.Store) {
	data := content(13, 200_000)
	first := put(t, s, data)
	w := started(t, s, "", data)
	second, err := w.Commit(t.Context(), first.Digest, int64(len(data)))
	if err != nil {
		t.Fatalf("second Commit: %v", err)
	}
	if second.Digest != first.Digest || second.Size != first.Size {
		t.Fatalf("second Commit = %+v, want %+v", second, first)
	}
	sessionGone(t, s, w.ID(), w.State())
	if all := walk(t, s); len(all) != 1 {
		t.Fatalf("Walk lists %d blobs after a duplicate commit, want 1", len(all))
	}
	readAll(t, s, first.Digest, data)
}

func testSHA512Session(t *testing.T, s blob.Store) {
	data := content(14, 2<<20+3)
	w := started(t, s, digest.SHA512, data)
	d := digest.SHA512.FromBytes(data)
	info, err := w.Commit(t.Context(), d, int64(len(data)))
	if err != nil {
		t.Fatalf("Commit sha512: %v", err)
	}
	if info.Digest != d {
		t.Fatalf("Commit digest = %s, want %s", info.Digest, d)
	}
	readAll(t, s, d, data)
	notVisible(t, s, digest.FromBytes(data)) // stored under sha512 only
}

// testCrossAlgorithm commits sessions with a digest of the other algorithm:
// the store must verify with the algorithm the client asked for.
func testCrossAlgorithm(t *testing.T, s blob.Store) {
	data := content(15, 1<<20+5)
	cases := []struct{ session, expected digest.Algorithm }{
		{digest.SHA256, digest.SHA512},
		{digest.SHA512, digest.SHA256},
	}
	for _, c := range cases {
		d := c.expected.FromBytes(data)
		w := started(t, s, c.session, data)
		if _, err := w.Commit(t.Context(), d, int64(len(data))); err != nil {
			t.Fatalf("%s session, %s digest: Commit: %v", c.session, c.expected, err)
		}
		readAll(t, s, d, data)

		w = started(t, s, c.session, data)
		_, err := w.Commit(t.Context(), c.expected.FromString("other"), int64(len(data)))
		wantCode(t, err, apperr.Invalid, fmt.Sprintf("%s session, wrong %s digest", c.session, c.expected))
		sessionGone(t, s, w.ID(), w.State())
	}
	if all := walk(t, s); len(all) != 2 {
		t.Fatalf("Walk lists %d blobs, want 2: %v", len(all), all)
	}
}

func testUnsupportedAlgorithm(t *testing.T, s blob.Store) {
	for _, alg := range []digest.Algorithm{"md5", "sha384", "../x", "SHA256"} {
		w, err := s.NewUpload(t.Context(), alg)
		if err == nil {
			w.Cancel(t.Context())
		}
		wantCode(t, err, apperr.Invalid, fmt.Sprintf("NewUpload(%q)", alg))
	}
}

// testResumeManyTimes simulates a chunked upload: every request resumes
// the session, appends a chunk and closes it.
func testResumeManyTimes(t *testing.T, s blob.Store) {
	ctx := t.Context()
	const requests = 50
	data := content(16, 0)
	var chunks [][]byte
	for i := range requests {
		n := (i * 7919) % 40_000 // varied, includes empty chunks
		if i == 25 {
			n = 1<<20 + 1 // larger than any sensible write buffer
		}
		c := content(uint64(1000+i), n)
		chunks = append(chunks, c)
		data = append(data, c...)
	}
	w, err := s.NewUpload(ctx, "")
	if err != nil {
		t.Fatalf("NewUpload: %v", err)
	}
	id, written := w.ID(), int64(0)
	var state []byte
	for i, c := range chunks {
		if i > 0 {
			if w, err = s.ResumeUpload(ctx, id, state); err != nil {
				t.Fatalf("request %d: ResumeUpload: %v", i, err)
			}
		}
		if w.ID() != id || w.Size() != written {
			t.Fatalf("request %d: resumed %s at %d, want %s at %d", i, w.ID(), w.Size(), id, written)
		}
		if _, err := w.Write(c); err != nil {
			t.Fatalf("request %d: Write: %v", i, err)
		}
		written += int64(len(c))
		if err := w.Close(); err != nil {
			t.Fatalf("request %d: Close: %v", i, err)
		}
		state = w.State()
		notVisible(t, s, digest.FromBytes(data[:written]))
	}
	if w, err = s.ResumeUpload(ctx, id, state); err != nil {
		t.Fatalf("final ResumeUpload: %v", err)
	}
	d := digest.FromBytes(data)
	if _, err := w.Commit(ctx, d, int64(len(data))); err != nil {
		t.Fatalf("Commit after %d requests: %v", requests, err)
	}
	readAll(t, s, d, data)
	sessionGone(t, s, id, state)
}

func testResumeUnknown(t *testing.T, s blob.Store) {
	ids := []string{"", "unknown", "../../etc/passwd", "/", strings.Repeat("0", 32), strings.Repeat("f", 64)}
	for _, id := range ids {
		w, err := s.ResumeUpload(t.Context(), id, nil)
		if err == nil {
			w.Cancel(t.Context())
		}
		wantCode(t, err, apperr.NotFound, fmt.Sprintf("ResumeUpload(%q)", id))
		wantCode(t, s.AbortUpload(t.Context(), id, nil), apperr.NotFound, fmt.Sprintf("AbortUpload(%q)", id))
	}
}

func testAbortUpload(t *testing.T, s blob.Store) {
	data := content(17, 3<<20)
	w := started(t, s, "", data)
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	other := started(t, s, "", content(18, 10))
	defer other.Cancel(context.WithoutCancel(t.Context()))

	if err := s.AbortUpload(t.Context(), w.ID(), w.State()); err != nil {
		t.Fatalf("AbortUpload: %v", err)
	}
	sessionGone(t, s, w.ID(), w.State())
	wantCode(t, s.AbortUpload(t.Context(), w.ID(), w.State()), apperr.NotFound, "second AbortUpload")
	notVisible(t, s, digest.FromBytes(data))
	noBlobs(t, s)
	if other.Size() != 10 {
		t.Fatalf("an unrelated session changed: size %d", other.Size())
	}
}

func testCancel(t *testing.T, s blob.Store) {
	data := content(19, 3<<20)
	w := started(t, s, "", data)
	if err := w.Cancel(t.Context()); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	sessionGone(t, s, w.ID(), w.State())
	notVisible(t, s, digest.FromBytes(data))
	noBlobs(t, s)
}

// testAbandonedWriter leaves a writer mid-stream, as a crashed request
// would: nothing may become visible.
func testAbandonedWriter(t *testing.T, s blob.Store) {
	data := content(20, 5<<20+1)
	w := started(t, s, "", data[:3<<20])
	t.Cleanup(func() { w.Cancel(context.Background()) })
	if _, err := w.Write(data[3<<20:]); err != nil {
		t.Fatalf("Write: %v", err)
	}
	notVisible(t, s, digest.FromBytes(data))
	notVisible(t, s, digest.FromBytes(data[:3<<20]))
	noBlobs(t, s)
}

// testConcurrentSameDigest commits one content from many sessions at once,
// as parallel pushes of a shared base layer do.
func testConcurrentSameDigest(t *testing.T, s blob.Store) {
	const writers = 32
	data := content(21, 256<<10+7)
	d := digest.FromBytes(data)
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() { errs[i] = commitChunked(t.Context(), s, data, d, 32<<10) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	all := walk(t, s)
	if len(all) != 1 || all[d].Size != int64(len(data)) {
		t.Fatalf("Walk = %v, want only %s with %d bytes", all, d, len(data))
	}
	readAll(t, s, d, data)
}

// commitChunked writes data in chunk-sized writes and commits it; it
// reports errors instead of failing so goroutines can call it.
func commitChunked(ctx context.Context, s blob.Store, data []byte, d digest.Digest, chunk int) error {
	w, err := s.NewUpload(ctx, "")
	if err != nil {
		return err
	}
	for off := 0; off < len(data); off += chunk {
		if _, err := w.Write(data[off:min(off+chunk, len(data))]); err != nil {
			return err
		}
	}
	info, err := w.Commit(ctx, d, int64(len(data)))
	if err != nil {
		return err
	}
	if info.Digest != d || info.Size != int64(len(data)) {
		return fmt.Errorf("Commit = %+v", info)
	}
	return nil
}

func malformedDigests() []digest.Digest {
	hex := digest.FromString("x").Encoded()
	return []digest.Digest{
		"", "sha256:", ":" + digest.Digest(hex), "sha256:../../etc", "md5:abc",
		"../../../etc/passwd", "sha256", digest.Digest(hex),
		"sha256:" + digest.Digest(strings.ToUpper(hex)),
		"sha256:" + digest.Digest(hex[:63]),
		"sha256:" + digest.Digest(hex) + "/../x",
		"sha256:" + digest.Digest(hex) + "0",
		"sha512:" + digest.Digest(hex),
		digest.SHA384.FromString("x"),
		"SHA256:" + digest.Digest(hex),
	}
}

func testMalformedDigests(t *testing.T, s blob.Store) {
	ctx := t.Context()
	data := content(22, 1000)
	for _, d := range malformedDigests() {
		_, err := s.Stat(ctx, d)
		wantCode(t, err, apperr.Invalid, fmt.Sprintf("Stat(%q)", d))
		rc, _, err := s.Open(ctx, d)
		if err == nil {
			rc.Close()
		}
		wantCode(t, err, apperr.Invalid, fmt.Sprintf("Open(%q)", d))
		wantCode(t, s.Delete(ctx, d), apperr.Invalid, fmt.Sprintf("Delete(%q)", d))

		w := started(t, s, "", data)
		_, err = w.Commit(ctx, d, int64(len(data)))
		wantCode(t, err, apperr.Invalid, fmt.Sprintf("Commit(%q)", d))
		// Whether a rejected digest keeps the session is the backend's
		// choice; clean it up either way.
		if w.Cancel(ctx) != nil {
			s.AbortUpload(ctx, w.ID(), w.State())
		}
	}
	noBlobs(t, s)
}
