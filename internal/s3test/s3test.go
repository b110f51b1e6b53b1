// Package s3test runs a real S3 server for tests: versitygw (an S3
// gateway, github.com/versity/versitygw, built from the Go module proxy)
// with its posix backend on a temporary directory, on 127.0.0.1.
//
// The binary is looked up in SILO_VERSITYGW, then PATH, then the cache
// .ci/run builds it into (~/.cache/silo-tools/versitygw-<version>). When
// it is missing, tests skip, unless SILO_REQUIRE_TOOLS=1 (CI): then it is
// built into the cache once (under a file lock, since test binaries run
// in parallel) and a failure fails the test.
package s3test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Version is the versitygw release the tests run.
const Version = "v1.0.14"

const (
	accessKey = "silo-test"
	secretKey = "silo-test-secret-key"
	// Region is the region the server answers for.
	Region = "us-east-1"
)

// Server is a running versitygw.
type Server struct {
	Endpoint  string // http://127.0.0.1:port
	AccessKey string
	SecretKey string
	dir       string
	addr      string
	bin       string
	mu        sync.Mutex
	cmd       *exec.Cmd
	exited    chan struct{}
}

var (
	shared     *Server
	sharedOnce sync.Once
	sharedErr  error
	bucketSeq  atomic.Int64
)

// Main runs the tests and then stops the shared server, if one started.
func Main(m *testing.M) int {
	code := m.Run()
	StopShared()
	return code
}

// StopShared stops the shared server, if one started (for a TestMain that
// runs the tests through another package's Main).
func StopShared() {
	if shared != nil {
		shared.stop()
		os.RemoveAll(shared.dir)
	}
}

// Shared returns the test binary's server, starting it on first use.
// Packages using it call Main from TestMain so it stops afterwards.
func Shared(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "silo-s3test-")
		if err != nil {
			sharedErr = err
			return
		}
		shared, sharedErr = start(bin, dir)
	})
	if sharedErr != nil {
		t.Fatalf("starting versitygw: %v", sharedErr)
	}
	return shared
}

// Start starts a server of the test's own, which the test may stop and
// start again (faults); it stops when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start(Binary(t), t.TempDir())
	if err != nil {
		t.Fatalf("starting versitygw: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

func start(bin, dir string) (*Server, error) {
	s := &Server{AccessKey: accessKey, SecretKey: secretKey, dir: dir, addr: freeAddr(), bin: bin}
	s.Endpoint = "http://" + s.addr
	return s, s.Restart()
}

// Restart starts the server again after Stop, on the same address and
// data: what it stored is still there.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	cmd := exec.Command(s.bin, "--access", s.AccessKey, "--secret", s.SecretKey, "--region", Region,
		"--port", s.addr, "--quiet", "posix", s.dir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(s.Endpoint + "/"); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-exited:
			s.cmd = nil
			return fmt.Errorf("versitygw exited at start")
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("versitygw did not answer on %s", s.addr)
}

// Stop kills the server (SIGKILL: like a crash or a lost network, no
// request is finished politely).
func (s *Server) Stop() {
	s.stop()
}

func (s *Server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Bucket creates a new empty bucket and returns its name.
func (s *Server) Bucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("silo-%d-%d", os.Getpid(), bucketSeq.Add(1))
	c, err := minio.New(s.addr, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region: Region, BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(context.Background(), name, minio.MakeBucketOptions{Region: Region}); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
	return name
}

// Client returns a minio-go client of the server (for tests that look at
// what is stored).
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := minio.New(s.addr, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region: Region, BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:17070"
	}
	defer l.Close()
	return l.Addr().String()
}

// CacheDir is where .ci/run (and, in CI, the tests) build versitygw.
func CacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "silo-tools", "versitygw-"+Version)
}

// Binary returns the versitygw binary or ends the test: a skip locally, a
// build (then a failure if that fails) when tools are required.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SILO_VERSITYGW"); p != "" {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	cached := filepath.Join(CacheDir(), "versitygw")
	if _, err := os.Stat(cached); err == nil {
		return cached
	}
	if os.Getenv("SILO_REQUIRE_TOOLS") != "1" {
		t.Skipf("versitygw not installed (build it: GOBIN=%s go install github.com/versity/versitygw/cmd/versitygw@%s)", CacheDir(), Version)
	}
	if err := build(cached); err != nil {
		t.Fatalf("versitygw is required (SILO_REQUIRE_TOOLS=1) and could not be built: %v", err)
	}
	return cached
}

// build runs go install into the cache, once across concurrent test
// binaries.
func build(target string) error {
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(target); err == nil {
		return nil // built by another test binary meanwhile
	}
	cmd := exec.Command("go", "install", "github.com/versity/versitygw/cmd/versitygw@"+Version)
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}
