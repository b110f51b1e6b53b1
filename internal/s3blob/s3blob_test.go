package s3blob

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/blobtest"
	"github.com/silo-hpc/silo/internal/s3test"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

var storeSeq atomic.Int64

// newStore returns a store under a prefix of its own in a bucket of the
// shared server, with the smallest part size S3 allows.
func newStore(t *testing.T, srv *s3test.Server, bucket string, edit ...func(*Config)) *Store {
	t.Helper()
	cfg := Config{Endpoint: srv.Endpoint, Bucket: bucket, Region: s3test.Region, AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey, PathStyle: true, PartSize: MinPartSize,
		Prefix: fmt.Sprintf("t%d/", storeSeq.Add(1))}
	for _, f := range edit {
		f(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// leftovers lists the objects of s that are not blobs, and its unfinished
// multipart uploads.
func leftovers(t *testing.T, bs blob.Store) []string {
	s := bs.(*Store)
	var out []string
	ctx := t.Context()
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("list: %v", obj.Err)
		}
		if !strings.HasPrefix(obj.Key, s.prefix+"blobs/") {
			out = append(out, obj.Key)
		}
	}
	for mpu := range s.client.ListIncompleteUploads(ctx, s.bucket, s.prefix, true) {
		if mpu.Err != nil {
			t.Fatalf("list uploads: %v", mpu.Err)
		}
		out = append(out, "multipart upload of "+mpu.Key)
	}
	return out
}

func TestContract(t *testing.T) {
	srv := s3test.Shared(t)
	bucket := srv.Bucket(t)
	blobtest.RunHarness(t, blobtest.Harness{
		New:       func(t *testing.T) blob.Store { return newStore(t, srv, bucket) },
		Leftovers: leftovers,
		Large:     2*MinPartSize + 12345,
	})
}

// slowDown answers every other request with S3's throttling error (or a
// plain 503), as a busy S3 does, and passes the rest to the real server.
type slowDown struct {
	next    http.Handler
	n       atomic.Int64
	refused atomic.Int64
}

func (f *slowDown) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch f.n.Add(1) % 4 {
	case 1:
		f.refused.Add(1)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
	case 3:
		f.refused.Add(1)
		http.Error(w, "busy", http.StatusServiceUnavailable)
	default:
		f.next.ServeHTTP(w, r)
	}
}

// TestRetriesSlowDown runs whole uploads and reads through a throttling
// front: minio-go's backoff retries make every operation succeed. (The
// front is a fault injector in front of the real server: S3 services
// throttle under load, which nothing here can provoke on demand.)
func TestRetriesSlowDown(t *testing.T) {
	srv := s3test.Shared(t)
	target, _ := url.Parse(srv.Endpoint)
	front := &slowDown{next: httputil.NewSingleHostReverseProxy(target)}
	ts := httptest.NewServer(front)
	t.Cleanup(ts.Close)
	s := newStore(t, srv, srv.Bucket(t), func(c *Config) { c.Endpoint = ts.URL; c.MaxRetries = 10 })
	ctx := t.Context()
	data := make([]byte, 2*MinPartSize+77)
	for i := range data {
		data[i] = byte(i * 7)
	}
	w, err := s.NewUpload(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data[:MinPartSize+5])
	if err := w.Close(); err != nil {
		t.Fatalf("Close through throttling: %v", err)
	}
	if w, err = s.ResumeUpload(ctx, w.ID(), w.State()); err != nil {
		t.Fatalf("ResumeUpload through throttling: %v", err)
	}
	w.Write(data[MinPartSize+5:])
	d := digest.FromBytes(data)
	if _, err := w.Commit(ctx, d, int64(len(data))); err != nil {
		t.Fatalf("Commit through throttling: %v", err)
	}
	direct := newStore(t, srv, s.bucket, func(c *Config) { c.Prefix = s.prefix })
	rc, _, err := direct.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := digest.Canonical.Digester()
	if _, err := got.Hash().Write(mustRead(t, rc)); err != nil || got.Digest() != d {
		t.Fatalf("stored content is %s, want %s", got.Digest(), d)
	}
	if front.refused.Load() == 0 {
		t.Fatalf("the front refused nothing: the test tested nothing")
	}
}

func mustRead(t *testing.T, rc interface{ Read([]byte) (int, error) }) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, 1<<20)
	for {
		n, err := rc.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out
		}
	}
}

// TestUnavailable stops the server under a store: every operation is
// Unavailable (a 503 for clients, never a 500), and once it is back the
// same store works again without being rebuilt.
func TestUnavailable(t *testing.T) {
	srv := s3test.Start(t)
	s := newStore(t, srv, srv.Bucket(t), func(c *Config) { c.MaxRetries = 2 })
	ctx := t.Context()
	before := []byte("stored before the outage")
	w, _ := s.NewUpload(ctx, "")
	w.Write(before)
	if _, err := w.Commit(ctx, digest.FromBytes(before), -1); err != nil {
		t.Fatal(err)
	}
	w, _ = s.NewUpload(ctx, "")
	w.Write([]byte("saved"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	saved := w.State()
	w, err := s.ResumeUpload(ctx, w.ID(), saved)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(make([]byte, MinPartSize+1)) // a part is on its way when the server goes
	srv.Stop()
	checks := map[string]error{"Ping": s.Ping(ctx)}
	_, checks["Stat"] = s.Stat(ctx, digest.FromBytes(before))
	_, _, checks["Open"] = s.Open(ctx, digest.FromBytes(before))
	checks["Close"] = w.Close()
	prior, _, _ := decodeState(saved)
	after, _, err := decodeState(w.State())
	if err != nil || w.Size() != 5 || after.Offset != 5 || after.Tail != prior.Tail || len(after.Parts) != 0 {
		t.Errorf("after a failed Close the session is %d bytes, %s (%v); want what was saved before", w.Size(), w.State(), err)
	}
	_, checks["Resume"] = s.ResumeUpload(ctx, w.ID(), saved)
	w2, _ := s.NewUpload(ctx, "")
	w2.Write([]byte("small"))
	_, checks["Commit"] = w2.Commit(ctx, digest.FromString("small"), -1)
	checks["Walk"] = s.Walk(ctx, func(blob.Info) error { return nil })
	for op, err := range checks {
		if !apperr.Is(err, apperr.Unavailable) {
			t.Errorf("%s with the server down = %v (%s), want Unavailable", op, err, apperr.CodeOf(err))
		}
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after restart: %v", err)
	}
	w, _ = s.NewUpload(ctx, "")
	data := make([]byte, MinPartSize+10)
	w.Write(data)
	if _, err := w.Commit(ctx, digest.FromBytes(data), -1); err != nil {
		t.Fatalf("Commit after restart: %v", err)
	}
	if _, err := s.Stat(context.Background(), digest.FromBytes(before)); err != nil {
		t.Fatalf("a blob stored before the outage: %v", err)
	}
}

// With a public endpoint, a blob opens with a URL presigned for it, which
// fetches the blob without the server.
func TestPresignedLocation(t *testing.T) {
	srv := s3test.Shared(t)
	s := newStore(t, srv, srv.Bucket(t), func(c *Config) { c.PublicEndpoint = srv.Endpoint })
	data := []byte("fetched straight from S3")
	w, _ := s.NewUpload(t.Context(), "")
	w.Write(data)
	d := digest.FromBytes(data)
	if _, err := w.Commit(t.Context(), d, -1); err != nil {
		t.Fatal(err)
	}
	rc, _, err := s.Open(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	loc, ok := rc.(blob.Located)
	if !ok || !strings.HasPrefix(loc.Location(), srv.Endpoint+"/") {
		t.Fatalf("reader %T: no location on %s", rc, srv.Endpoint)
	}
	resp, err := http.Get(loc.Location())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := mustRead(t, resp.Body); resp.StatusCode != http.StatusOK || string(got) != string(data) {
		t.Fatalf("GET presigned = %d %q", resp.StatusCode, got)
	}
	plain := newStore(t, srv, s.bucket, func(c *Config) { c.Prefix = s.prefix })
	rc2, _, _ := plain.Open(t.Context(), d)
	defer rc2.Close()
	if _, ok := rc2.(blob.Located); ok {
		t.Fatal("a store without a public endpoint offers a location")
	}
}

// refuseParts answers every part upload with an error S3 does not retry
// (a fault injector in front of the real server: nothing here can make
// versitygw refuse a part on demand).
type refuseParts struct{ next http.Handler }

func (f refuseParts) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut && r.URL.Query().Has("partNumber") {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
		return
	}
	f.next.ServeHTTP(w, r)
}

// A session whose first Close fails after its multipart upload began
// has no state to resume (State is nil), so nothing could name that
// upload to AbortUpload: the Close removes it, and what the session's
// owner then does (internal/upload aborts by id alone) leaves nothing.
func TestFailedFirstCloseLeavesNothing(t *testing.T) {
	srv := s3test.Shared(t)
	target, _ := url.Parse(srv.Endpoint)
	ts := httptest.NewServer(refuseParts{httputil.NewSingleHostReverseProxy(target)})
	t.Cleanup(ts.Close)
	s := newStore(t, srv, srv.Bucket(t), func(c *Config) { c.Endpoint = ts.URL })
	ctx := t.Context()
	w, err := s.NewUpload(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(make([]byte, MinPartSize+10)) // the first part goes out, and is refused
	if err := w.Close(); err == nil {
		t.Fatal("Close succeeded although S3 refused the part")
	}
	if w.State() != nil || w.Size() != 0 {
		t.Fatalf("after a failed first Close: state %s, %d bytes; want none", w.State(), w.Size())
	}
	if err := s.AbortUpload(ctx, w.ID(), nil); err != nil && !apperr.Is(err, apperr.NotFound) {
		t.Fatal(err)
	}
	if left := leftovers(t, s); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}
