package replicatest

import (
	"bytes"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/config"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/pgtest"
	"github.com/silo-hpc/silo/internal/s3test"
	"github.com/silo-hpc/silo/internal/servertest"
)

// single is one replica on its own S3 server or PostgreSQL cluster, so a
// test may stop either.
type single struct {
	*cluster
	srv *servertest.Server
}

func newSingle(t *testing.T, s3 *s3test.Server, dsn string) *single {
	c := &cluster{t: t, DSN: dsn, S3: s3, tokens: map[string]string{}}
	c.Bucket = s3.Bucket(t)
	srv := servertest.Start(t, sharedConfig(t, s3, c.Bucket, dsn), func(cfg *config.Config) {
		cfg.S3.Endpoint = s3.Endpoint
	})
	c.replicas = []*servertest.Server{srv}
	_, c.tokens["alice"] = srv.User(t, "alice", meta.RoleUser)
	return &single{cluster: c, srv: srv}
}

// status is a request's status code (0 when it could not be sent).
func (c *cluster) status(method, url string, body []byte, header map[string]string) (int, http.Header) {
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	if body == nil {
		req.Body, req.ContentLength = nil, 0
	}
	req.SetBasicAuth("alice", c.tokens["alice"])
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

func abs(base, loc string) string {
	if strings.HasPrefix(loc, "http") {
		return loc
	}
	return base + loc
}

func randomBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	mrand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

// chunk PATCHes b at offset and returns the status and the next location.
func (c *cluster) chunk(base, loc string, b []byte, offset int) (int, string) {
	code, h := c.status("PATCH", loc, b, map[string]string{"Content-Type": "application/octet-stream",
		"Content-Range": fmt.Sprintf("%d-%d", offset, offset+len(b)-1)})
	if code == http.StatusAccepted {
		loc = abs(base, h.Get("Location"))
	}
	return code, loc
}

// finish closes an upload with its digest and checks the blob reads back.
func (c *cluster) finish(base, repo, loc string, data []byte) {
	c.t.Helper()
	d := digest.FromBytes(data)
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	if code, _ := c.status("PUT", loc+sep+"digest="+d.String(), nil, nil); code != http.StatusCreated {
		c.t.Fatalf("closing PUT = %d", code)
	}
	req, _ := http.NewRequest("GET", base+"/v2/"+repo+"/blobs/"+d.String(), nil)
	req.SetBasicAuth("alice", c.tokens["alice"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, data) {
		c.t.Fatalf("blob read back: %d, %d bytes of %d", resp.StatusCode, len(got), len(data))
	}
}

// S3 stops in the middle of a chunked upload: the chunk sent meanwhile
// gets a 503 (and /readyz says so), nothing is lost, and once S3 is back
// the same chunk, resent, continues the upload.
func TestS3Outage(t *testing.T) {
	s3 := s3test.Start(t)
	c := newSingle(t, s3, pgtest.DSN(t))
	base := c.srv.URL
	data := randomBytes(13<<20, 3)
	code, h := c.status("POST", base+"/v2/alice/outage/blobs/uploads/", nil, nil)
	if code != http.StatusAccepted {
		t.Fatalf("POST = %d", code)
	}
	code, loc := c.chunk(base, abs(base, h.Get("Location")), data[:6<<20], 0)
	if code != http.StatusAccepted {
		t.Fatalf("first chunk = %d", code)
	}
	s3.Stop()
	if code, h := c.status("PATCH", loc, data[6<<20:], map[string]string{"Content-Type": "application/octet-stream",
		"Content-Range": fmt.Sprintf("%d-%d", 6<<20, len(data)-1)}); code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Fatalf("chunk with S3 down = %d (Retry-After %q), want 503", code, h.Get("Retry-After"))
	}
	if resp, err := http.Get(base + "/readyz"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with S3 down: %v %v", resp, err)
	}
	if err := s3.Restart(); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get(base + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz with S3 back: %v %v", resp, err)
	}
	if code, loc = c.chunk(base, loc, data[6<<20:], 6<<20); code != http.StatusAccepted {
		t.Fatalf("the chunk resent = %d", code)
	}
	c.finish(base, "alice/outage", loc, data)
}

// PostgreSQL stops under a running server: requests get 503 (never 500),
// /readyz says so, and once it is back the same server works again.
func TestPostgresOutage(t *testing.T) {
	pg := pgtest.Own(t)
	c := newSingle(t, s3test.Shared(t), pg.DSN(t))
	base := c.srv.URL
	small := []byte("stored before the outage")
	put := func(b []byte) int {
		code, _ := c.status("POST", base+"/v2/alice/db/blobs/uploads/?digest="+digest.FromBytes(b).String(), b, nil)
		return code
	}
	if code := put(small); code != http.StatusCreated {
		t.Fatalf("push = %d", code)
	}
	pg.Stop()
	for _, r := range []struct{ method, path string }{
		{"GET", "/v2/alice/db/blobs/" + digest.FromBytes(small).String()},
		{"POST", "/v2/alice/db/blobs/uploads/"},
		{"GET", "/v1/images/alice/default/db:latest"},
	} {
		if code, _ := c.status(r.method, base+r.path, nil, nil); code != http.StatusServiceUnavailable {
			t.Errorf("%s %s with the database down = %d, want 503", r.method, r.path, code)
		}
	}
	if code := put([]byte("during")); code != http.StatusServiceUnavailable {
		t.Errorf("push with the database down = %d, want 503", code)
	}
	if resp, err := http.Get(base + "/readyz"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with the database down: %v %v", resp, err)
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	// The pool finds its connections dead and makes new ones: the first
	// requests may still fail; the server recovers without a restart.
	after := []byte("stored after the outage")
	var code int
	for range 20 {
		if code = put(after); code == http.StatusCreated {
			break
		}
	}
	if code != http.StatusCreated {
		t.Fatalf("push after the database came back = %d", code)
	}
	if code, _ := c.status("GET", base+"/v2/alice/db/blobs/"+digest.FromBytes(small).String(), nil, nil); code != http.StatusOK {
		t.Fatalf("a blob pushed before the outage = %d", code)
	}
}

// silo builds the silo command once per test binary.
var siloBin struct {
	path string
	err  error
}

func buildSilo(t *testing.T) string {
	t.Helper()
	if siloBin.path == "" && siloBin.err == nil {
		dir, err := os.MkdirTemp("", "silo-bin-")
		if err == nil {
			siloBin.path = filepath.Join(dir, "silo")
			out, berr := exec.Command("go", "build", "-o", siloBin.path, "../../cmd/silo").CombinedOutput()
			if berr != nil {
				err = fmt.Errorf("%v: %s", berr, out)
			}
		}
		siloBin.err = err
	}
	if siloBin.err != nil {
		t.Fatalf("building silo: %v", siloBin.err)
	}
	return siloBin.path
}

// serveProcess runs `silo serve` with cfg as a process of its own.
func serveProcess(t *testing.T, cfg config.Config) (*exec.Cmd, string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(buildSilo(t), "serve")
	cmd.Env = append(os.Environ(), "SILO_ADDR="+addr, "SILO_DATA_DIR="+t.TempDir(), "SILO_DATABASE="+cfg.Database,
		"SILO_STORAGE=s3", "SILO_S3_ENDPOINT="+cfg.S3.Endpoint, "SILO_S3_BUCKET="+cfg.S3.Bucket,
		"SILO_S3_REGION="+cfg.S3.Region, "SILO_S3_ACCESS_KEY="+cfg.S3.AccessKey, "SILO_S3_SECRET_KEY="+cfg.S3.SecretKey,
		"SILO_S3_PATH_STYLE=true", "SILO_S3_PART_SIZE="+strconv.FormatInt(int64(cfg.S3.PartSize), 10),
		"SILO_SIGNING_KEY_FILE="+cfg.Auth.SigningKeyFile, "SILO_UPLOAD_LEASE=2s", "SILO_LOG_LEVEL=warn")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("silo serve said:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	for start := time.Now(); time.Since(start) < 30*time.Second; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd, base
			}
		}
	}
	t.Fatal("silo serve did not become ready")
	return nil, ""
}

// A replica is killed (SIGKILL) while a chunk streams into it: the other
// replica continues the upload from what the first recorded, once the dead
// replica's lease on the session lapses, and completes it.
func TestKillReplicaMidUpload(t *testing.T) {
	s3 := s3test.Shared(t)
	dsn, bucket := pgtest.DSN(t), s3.Bucket(t)
	shared := sharedConfig(t, s3, bucket, dsn)
	b := servertest.Start(t, shared, func(c *config.Config) { c.Uploads.Lease = config.Duration(2 * time.Second) })
	c := &cluster{t: t, tokens: map[string]string{}}
	_, c.tokens["alice"] = b.User(t, "alice", meta.RoleUser)
	cfg := config.Default()
	shared(&cfg)
	proc, a := serveProcess(t, cfg)

	data := randomBytes(14<<20, 4)
	code, h := c.status("POST", a+"/v2/alice/killed/blobs/uploads/", nil, nil)
	if code != http.StatusAccepted {
		t.Fatalf("POST = %d", code)
	}
	code, loc := c.chunk(a, abs(a, h.Get("Location")), data[:6<<20], 0)
	if code != http.StatusAccepted {
		t.Fatalf("first chunk = %d", code)
	}
	// The second chunk streams in; the replica dies in the middle of it.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PATCH", loc, pr)
	req.ContentLength = int64(len(data) - 6<<20)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", 6<<20, len(data)-1))
	req.SetBasicAuth("alice", c.tokens["alice"])
	sent := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("the chunk completed (%d)", resp.StatusCode)
		}
		sent <- err
	}()
	if _, err := pw.Write(data[6<<20 : 11<<20]); err != nil {
		t.Fatal(err)
	}
	proc.Process.Kill()
	pw.CloseWithError(io.ErrUnexpectedEOF)
	if err := <-sent; err == nil || strings.Contains(err.Error(), "completed") {
		t.Fatalf("the chunk to the killed replica: %v", err)
	}
	// The other replica: the session holds the first chunk.
	bLoc := strings.Replace(loc, a, b.URL, 1)
	var rng string
	if code, h := c.status("GET", bLoc, nil, nil); code == http.StatusNoContent {
		rng = h.Get("Range")
	}
	if rng != fmt.Sprintf("0-%d", 6<<20-1) {
		t.Fatalf("the session on the other replica: Range %q", rng)
	}
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		code, next := c.chunk(b.URL, bLoc, data[6<<20:], 6<<20)
		if code == http.StatusAccepted {
			bLoc = next
			break
		}
		if code != http.StatusServiceUnavailable || time.Since(start) > 30*time.Second {
			t.Fatalf("resending the chunk to the other replica = %d", code)
		}
	}
	c.finish(b.URL, "alice/killed", bLoc, data)
}
