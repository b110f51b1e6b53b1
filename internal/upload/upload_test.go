package upload_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/fsblob"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/sqlmeta"
	"github.com/silo-hpc/silo/internal/testenv"
	"github.com/silo-hpc/silo/internal/upload"
)

func newService(t *testing.T) (*upload.Service, *sqlmeta.Store, *fsblob.Store, *testenv.Clock) {
	t.Helper()
	ms, bs := openStores(t)
	c := testenv.NewClock(time.Now().UTC().Truncate(time.Microsecond))
	svc := upload.New(ms, bs, slog.New(slog.NewTextHandler(io.Discard, nil)),
		upload.Config{IdleTimeout: time.Hour, Lease: time.Minute, Now: c.Now})
	return svc, ms, bs, c
}

// openStores opens a metadata and a blob store in a temporary directory.
func openStores(t *testing.T) (*sqlmeta.Store, *fsblob.Store) {
	t.Helper()
	dir := t.TempDir()
	ms, err := sqlmeta.OpenSQLite(context.Background(), filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	bs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return ms, bs
}

func appendAt(ctx context.Context, s *upload.Service, id string, at int64, b []byte) (upload.Session, error) {
	return s.Append(ctx, upload.Append{ID: id, Kind: "k", At: at, Body: bytes.NewReader(b), Length: int64(len(b))})
}

// Chunks are appended at the session's end; one out of order changes
// nothing; the commit verifies the whole content.
func TestAppendAndCommit(t *testing.T) {
	svc, _, bs, _ := newService(t)
	ctx := context.Background()
	sess, err := svc.Start(ctx, "k", "repo", "u1", "", map[string]int{"x": 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := appendAt(ctx, svc, sess.ID, 0, []byte("hello ")); err != nil {
		t.Fatal(err)
	}
	_, err = appendAt(ctx, svc, sess.ID, 3, []byte("xx"))
	if !apperr.Is(err, apperr.Conflict) || apperr.SubjectOf(err) != apperr.Range {
		t.Fatalf("out of order: %v", err)
	}
	got, err := appendAt(ctx, svc, sess.ID, 6, []byte("world"))
	if err != nil || got.Offset != 11 || string(got.Data) != `{"x":1}` {
		t.Fatalf("%+v %v", got, err)
	}
	// A body shorter than announced keeps what arrived.
	got, err = svc.Append(ctx, upload.Append{ID: sess.ID, Kind: "k", At: -1, Body: strings.NewReader("!!"), Length: 5})
	if !apperr.Is(err, apperr.Invalid) || got.Offset != 13 {
		t.Fatalf("short body: %+v %v", got, err)
	}
	// A body longer than announced keeps the announced bytes and is
	// refused (a chunked body past its Content-Range).
	got, err = svc.Append(ctx, upload.Append{ID: sess.ID, Kind: "k", At: -1, Body: strings.NewReader("!!!!"), Length: 2})
	if !apperr.Is(err, apperr.Invalid) || apperr.SubjectOf(err) != apperr.Range || got.Offset != 15 {
		t.Fatalf("long body: %+v %v", got, err)
	}
	want := digest.FromString("hello world!!!!")
	if _, _, err := svc.Commit(ctx, upload.Commit{ID: sess.ID, Kind: "other", Digest: want, Size: -1, At: -1, Length: -1}); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("commit as another kind: %v", err)
	}
	info, _, err := svc.Commit(ctx, upload.Commit{ID: sess.ID, Kind: "k", Digest: want, Size: 15, At: -1, Length: -1})
	if err != nil || info.Digest != want {
		t.Fatalf("commit: %+v %v", info, err)
	}
	if _, err := bs.Stat(ctx, want); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Get(ctx, sess.ID, "k"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("session after commit: %v", err)
	}
}

// Content that does not match its digest ends the session; nothing is
// published.
func TestCommitMismatch(t *testing.T) {
	svc, _, bs, _ := newService(t)
	ctx := context.Background()
	sess, _ := svc.Start(ctx, "k", "repo", "u1", "", nil)
	_, _, err := svc.Commit(ctx, upload.Commit{ID: sess.ID, Kind: "k", Digest: digest.FromString("other"), Size: -1,
		At: 0, Body: strings.NewReader("content"), Length: 7})
	if !apperr.Is(err, apperr.Invalid) || apperr.SubjectOf(err) != apperr.Digest {
		t.Fatalf("mismatch: %v", err)
	}
	if _, err := svc.Get(ctx, sess.ID, "k"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("session after mismatch: %v", err)
	}
	if _, err := bs.Stat(ctx, digest.FromString("content")); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("mismatched content published: %v", err)
	}
}

// A session idle past its timeout is gone for every operation, and the
// sweep removes its bytes; activity renews it.
func TestExpiry(t *testing.T) {
	svc, ms, _, c := newService(t)
	ctx := context.Background()
	live, _ := svc.Start(ctx, "k", "r", "u", "", nil)
	idle, _ := svc.Start(ctx, "k", "r", "u", "", nil)
	if _, err := appendAt(ctx, svc, idle.ID, 0, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	c.Add(40 * time.Minute)
	if _, err := appendAt(ctx, svc, live.ID, 0, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	c.Add(40 * time.Minute) // idle: 80 min since its last request; live: 40
	for name, op := range map[string]func() error{
		"append": func() error { _, err := appendAt(ctx, svc, idle.ID, 3, []byte("d")); return err },
		"get":    func() error { _, err := svc.Get(ctx, idle.ID, "k"); return err },
		"commit": func() error {
			_, _, err := svc.Commit(ctx, upload.Commit{ID: idle.ID, Kind: "k", Digest: digest.FromString("abc"), Size: -1, At: -1, Length: -1})
			return err
		},
	} {
		if err := op(); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("%s on an expired session: %v", name, err)
		}
	}
	if _, err := svc.Get(ctx, live.ID, "k"); err != nil {
		t.Fatalf("renewed session: %v", err)
	}
	n, err := svc.Sweep(ctx)
	if err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	if _, err := ms.GetUpload(ctx, idle.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("swept row: %v", err)
	}
}

// blockingReader delivers its first bytes, then waits until released.
type blockingReader struct {
	first   []byte
	started chan struct{}
	release chan struct{}
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if b.first != nil {
		n := copy(p, b.first)
		b.first = nil
		close(b.started)
		return n, nil
	}
	<-b.release
	return 0, io.EOF
}

// While one request writes a session, a second one (on any replica: the
// lease is in the database) is refused before it reads a byte.
func TestOneWriterAtATime(t *testing.T) {
	svc, _, _, _ := newService(t)
	ctx := context.Background()
	sess, _ := svc.Start(ctx, "k", "r", "u", "", nil)
	br := &blockingReader{first: []byte("first"), started: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := svc.Append(ctx, upload.Append{ID: sess.ID, Kind: "k", At: 0, Body: br, Length: -1})
		done <- err
	}()
	<-br.started
	second := &bytes.Reader{}
	if _, err := svc.Append(ctx, upload.Append{ID: sess.ID, Kind: "k", At: -1, Body: second, Length: -1}); !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("second writer: %v", err)
	}
	if err := svc.Abort(ctx, sess.ID, "k"); !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("abort during a write: %v", err)
	}
	close(br.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, err := appendAt(ctx, svc, sess.ID, 5, []byte("second"))
	if err != nil || got.Offset != 11 {
		t.Fatalf("%+v %v", got, err)
	}
}

// A request that died holding the lease (a crashed replica) blocks the
// session only until its lease lapses.
func TestLapsedLease(t *testing.T) {
	svc, ms, _, c := newService(t)
	ctx := context.Background()
	sess, _ := svc.Start(ctx, "k", "r", "u", "", nil)
	if _, err := ms.ClaimUpload(ctx, sess.ID, "crashed", c.Now().Add(time.Minute), c.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := appendAt(ctx, svc, sess.ID, 0, []byte("x")); !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("while leased: %v", err)
	}
	c.Add(2 * time.Minute)
	if _, err := appendAt(ctx, svc, sess.ID, 0, []byte("x")); err != nil {
		t.Fatalf("after the lease lapsed: %v", err)
	}
}

// Check and Done let an owner bound a request and keep its own state
// with the offset.
func TestOwnerHooks(t *testing.T) {
	svc, _, _, _ := newService(t)
	ctx := context.Background()
	sess, _ := svc.Start(ctx, "k", "r", "u", "", nil)
	limit := func(*upload.Session) (int64, error) { return 4, nil }
	_, err := svc.Append(ctx, upload.Append{ID: sess.ID, Kind: "k", At: -1, Check: limit, Body: strings.NewReader("12345"), Length: 5})
	if !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("over the limit: %v", err)
	}
	// Without a Length, the limit cuts the body and the excess is an error.
	_, err = svc.Append(ctx, upload.Append{ID: sess.ID, Kind: "k", At: -1, Check: limit, Body: io.MultiReader(strings.NewReader("12345")), Length: -1})
	if !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("streamed over the limit: %v", err)
	}
	got, err := svc.Append(ctx, upload.Append{ID: sess.ID, Kind: "k", At: -1, Body: strings.NewReader("ab"), Length: 2,
		Done: func(s *upload.Session, n int64) error { s.Data = []byte(`{"parts":1}`); return nil }})
	if err != nil || string(got.Data) != `{"parts":1}` {
		t.Fatalf("%+v %v", got, err)
	}
	if again, _ := svc.Get(ctx, sess.ID, "k"); string(again.Data) != `{"parts":1}` {
		t.Fatalf("saved %+v", again)
	}
}

// downStore is a blob store that, while down, starts sessions that store
// nothing: every write and Close fails, as S3 does when it is unreachable.
type downStore struct {
	*fsblob.Store
	down bool
}

func (d *downStore) NewUpload(ctx context.Context, alg digest.Algorithm) (blob.Writer, error) {
	if d.down {
		return downWriter{}, nil
	}
	return d.Store.NewUpload(ctx, alg)
}

func (d *downStore) AbortUpload(ctx context.Context, id string, state []byte) error {
	if id == "down" {
		return nil
	}
	return d.Store.AbortUpload(ctx, id, state)
}

type downWriter struct{}

var errDown = errors.New("blob store unreachable")

func (downWriter) Write([]byte) (int, error) { return 0, errDown }
func (downWriter) ID() string                { return "down" }
func (downWriter) Size() int64               { return 0 }
func (downWriter) Close() error              { return errDown }
func (downWriter) State() []byte             { return nil }
func (downWriter) Cancel(context.Context) error {
	return nil
}
func (downWriter) Commit(context.Context, digest.Digest, int64) (blob.Info, error) {
	return blob.Info{}, errDown
}

// lapsing is a metadata store whose GetUpload lets time pass just after
// the caller's next look at the clock: a lease the caller saw held has
// lapsed by the time it claims it.
type lapsing struct {
	*sqlmeta.Store
	armed *bool
}

func (l lapsing) GetUpload(ctx context.Context, id string) (meta.Upload, error) {
	*l.armed = true
	return l.Store.GetUpload(ctx, id)
}

// A closing PUT whose bytes the blob store cannot take, on a session that
// holds none yet and whose lease another request held a moment before
// (so the commit takes the lease), leaves the session as it was: the
// client's retry completes it rather than hear that the session is
// unknown.
func TestCommitWithTheBlobStoreDown(t *testing.T) {
	ctx := context.Background()
	ms, fs := openStores(t)
	bs := &downStore{Store: fs, down: true}
	c := testenv.NewClock(time.Now().UTC().Truncate(time.Microsecond))
	armed := false
	now := func() time.Time {
		t := c.Now()
		if armed {
			armed = false
			c.Add(2 * time.Minute)
		}
		return t
	}
	svc := upload.New(lapsing{ms, &armed}, bs, slog.New(slog.NewTextHandler(io.Discard, nil)),
		upload.Config{IdleTimeout: time.Hour, Lease: time.Minute, Now: now})

	sess, err := svc.Start(ctx, "k", "repo", "u1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ms.ClaimUpload(ctx, sess.ID, "another request", c.Now().Add(time.Minute), c.Now()); err != nil {
		t.Fatal(err)
	}
	content := []byte("all of it")
	commit := upload.Commit{ID: sess.ID, Kind: "k", At: 0, Body: bytes.NewReader(content), Length: int64(len(content)),
		Digest: digest.FromBytes(content), Size: int64(len(content))}
	if _, _, err := svc.Commit(ctx, commit); !errors.Is(err, errDown) {
		t.Fatalf("commit with the blob store down: %v", err)
	}
	row, err := ms.GetUpload(ctx, sess.ID)
	if err != nil || row.BlobUploadID != "" {
		t.Fatalf("the session names blob-store session %q the store does not hold (%v)", row.BlobUploadID, err)
	}

	bs.down = false
	commit.Body = bytes.NewReader(content)
	info, _, err := svc.Commit(ctx, commit)
	if err != nil || info.Digest != commit.Digest {
		t.Fatalf("retry once the store is back: %+v %v", info, err)
	}
}

// Within: a session nothing has written to ends after its own time, not
// the idle timeout, and the sweep removes it; once written to, it lives
// as any other.
func TestWithin(t *testing.T) {
	svc, ms, _, c := newService(t)
	ctx := context.Background()
	short, _ := svc.Start(ctx, "k", "r", "u", "", nil, upload.Within(15*time.Minute))
	used, _ := svc.Start(ctx, "k", "r", "u", "", nil, upload.Within(15*time.Minute))
	plain, _ := svc.Start(ctx, "k", "r", "u", "", nil)
	if want := c.Now().Add(15 * time.Minute); !short.ExpiresAt.Equal(want) {
		t.Fatalf("expires at %v, want %v", short.ExpiresAt, want)
	}
	c.Add(10 * time.Minute)
	if _, err := appendAt(ctx, svc, used.ID, 0, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	c.Add(6 * time.Minute)
	if _, err := svc.Get(ctx, short.ID, "k"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("a session past its own time: %v", err)
	}
	for _, id := range []string{used.ID, plain.ID} {
		if _, err := svc.Get(ctx, id, "k"); err != nil {
			t.Fatalf("session %s: %v", id, err)
		}
	}
	if n, err := svc.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	if _, err := ms.GetUpload(ctx, short.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("swept row: %v", err)
	}
}
