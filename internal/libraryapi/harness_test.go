package libraryapi_test

// The tests here start the real composed server (server.OpenStores +
// server.New over a temporary data directory) behind httptest, and drive
// it with the client library SingularityCE uses, scs-library-client, plus
// raw HTTP for what that client never sends.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sylabs/scs-library-client/client"
	"github.com/sylabs/sif/v2/pkg/sif"

	"github.com/silo-hpc/silo/internal/config"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/servertest"
	"github.com/silo-hpc/silo/internal/sifinspect/sifinspecttest"
)

type env struct {
	t      *testing.T
	srv    *servertest.Server
	tokens map[string]string // user name -> token
}

// newEnv starts a server; edit adjusts the configuration first.
func newEnv(t *testing.T, edit ...func(*config.Config)) *env {
	t.Helper()
	e := &env{t: t, srv: servertest.Start(t, edit...), tokens: map[string]string{}}
	e.user("alice", meta.RoleUser)
	e.user("bob", meta.RoleUser)
	e.user("root", meta.RoleAdmin)
	return e
}

// user creates an account with a token.
func (e *env) user(name string, role meta.Role) string {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.srv.Auth.CreateUser(ctx, name, role, ""); err != nil {
		e.t.Fatal(err)
	}
	tok, _, err := e.srv.Auth.IssueToken(ctx, name, "test", 0)
	if err != nil {
		e.t.Fatal(err)
	}
	e.tokens[name] = tok
	return tok
}

// recorder remembers the requests a client sent ("METHOD /path").
//
// It also answers the client's OCI probe (LA §5.1) with a 404 itself, as
// a server without OCI would: these tests are about the Library API, and
// the server's OCI side may redirect pushes away from it (that path has
// its own tests with the OCI transport).
type recorder struct {
	mu   sync.Mutex
	reqs []string
	// followRedirect lets the client see the server's real
	// /v1/oci-redirect answer (and push over OCI when it says so).
	followRedirect bool
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Method+" "+req.URL.Path)
	r.mu.Unlock()
	if strings.HasSuffix(req.URL.Path, "/v1/oci-redirect") && !r.followRedirect {
		body := `{"error":{"code":404,"message":"library API only"}}`
		return &http.Response{StatusCode: http.StatusNotFound, Status: "404 Not Found", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)), Request: req}, nil
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) sent(prefix string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.reqs {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// logger collects the client's log lines.
type logger struct {
	mu    sync.Mutex
	lines []string
}

func (l *logger) Log(v ...any) { l.add(fmt.Sprint(v...)) }
func (l *logger) Logf(f string, v ...any) {
	l.add(fmt.Sprintf(f, v...))
}
func (l *logger) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
}
func (l *logger) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

type libClient struct {
	*client.Client
	rec *recorder
	log *logger
}

// client returns a scs-library-client for user ("" = anonymous) that
// always uses the Library API.
func (e *env) client(user string) *libClient { return e.newClient(user, false) }

// ociClient returns a client that follows /v1/oci-redirect as SingularityCE
// does, so its pushes go over OCI when the server offers it.
func (e *env) ociClient(user string) *libClient { return e.newClient(user, true) }

func (e *env) newClient(user string, followRedirect bool) *libClient {
	e.t.Helper()
	rec, lg := &recorder{followRedirect: followRedirect}, &logger{}
	c, err := client.NewClient(&client.Config{
		BaseURL: e.srv.URL, AuthToken: e.tokens[user], Logger: lg,
		HTTPClient: &http.Client{Transport: rec},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return &libClient{Client: c, rec: rec, log: lg}
}

// makeSIF writes a SIF with a primary squashfs-typed partition of size
// pseudo-random bytes (seeded, so equal seeds give equal files) for arch.
// Data streams from the generator: nothing is held in memory.
func makeSIF(t testing.TB, arch string, size int64, seed uint64) string {
	return sifinspecttest.RandomSIF(t, fmt.Sprintf("img-%s-%d.sif", arch, seed), arch, size, seed)
}

// makeArchlessSIF writes a SIF with no partition, so no architecture: the
// library records it with an unknown one.
func makeArchlessSIF(t testing.TB, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "archless.sif")
	di, err := sif.NewDescriptorInput(sif.DataGeneric, strings.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	f, err := sif.CreateContainerAtPath(path, sif.OptCreateWithDescriptors(di), sif.OptCreateDeterministic())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.UnloadContainer(); err != nil {
		t.Fatal(err)
	}
	return path
}

// fileHash returns "sha256.<hex>" of a file, the Library API's image hash.
func fileHash(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return "sha256." + hex.EncodeToString(h.Sum(nil))
}

// push uploads path to ref ("e/c/n") with tags and returns the result.
func (c *libClient) push(t testing.TB, path, ref, arch string, tags ...string) (*client.UploadImageComplete, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return c.UploadImage(context.Background(), f, ref, arch, tags, "test image", nil)
}

// mustPush is push that fails the test on error.
func (c *libClient) mustPush(t testing.TB, path, ref, arch string, tags ...string) *client.UploadImageComplete {
	t.Helper()
	res, err := c.push(t, path, ref, arch, tags...)
	if err != nil {
		t.Fatalf("push %s to %s: %v", path, ref, err)
	}
	return res
}

// pullBoth pulls ref:tag with DownloadImage and ConcurrentDownloadImage
// and checks both copies equal want (a file path).
func (c *libClient) pullBoth(t testing.TB, ref, tag, arch, want string) {
	t.Helper()
	ctx := context.Background()
	pullBothWith(t, ref+":"+tag+" ("+arch+")", want,
		func(w io.Writer) error { return c.DownloadImage(ctx, w, arch, ref, tag, nil) },
		func(f *os.File) error {
			return c.ConcurrentDownloadImage(ctx, f, arch, ref, tag, &client.Downloader{Concurrency: 3, PartSize: 5 << 20}, nil)
		})
}

// pullBothWith checks that a client's two downloads, whole (into a
// writer) and concurrent (ranges into a file), both give want.
func pullBothWith(t testing.TB, what, want string, whole func(io.Writer) error, ranged func(*os.File) error) {
	t.Helper()
	dir := t.TempDir()
	a, err := os.Create(filepath.Join(dir, "a.sif"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := whole(a); err != nil {
		t.Fatalf("DownloadImage %s: %v", what, err)
	}
	b, err := os.Create(filepath.Join(dir, "b.sif"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := ranged(b); err != nil {
		t.Fatalf("ConcurrentDownloadImage %s: %v", what, err)
	}
	wantHash := fileHash(t, want)
	for _, got := range []string{a.Name(), b.Name()} {
		if h := fileHash(t, got); h != wantHash {
			t.Fatalf("%s: pulled %s, want %s", filepath.Base(got), h, wantHash)
		}
	}
}

// do sends a raw request; token "" sends no Authorization. It returns the
// status and body.
func (e *env) do(method, path, token string, body io.Reader) (int, []byte) {
	e.t.Helper()
	u := path
	if !strings.HasPrefix(u, "http") {
		u = e.srv.URL + path
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.StatusCode, b
}

// doJSON sends v as a JSON body without Content-Type, as the Sylabs
// client does, and decodes the response's "data" into out when not nil.
func (e *env) doJSON(method, path, token string, v any, out any) (int, []byte) {
	e.t.Helper()
	var body io.Reader
	switch b := v.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		j, err := json.Marshal(v)
		if err != nil {
			e.t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	status, b := e.do(method, path, token, body)
	if out != nil && status < 300 {
		var env struct{ Data json.RawMessage }
		if err := json.Unmarshal(b, &env); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
		if err := json.Unmarshal(env.Data, out); err != nil {
			e.t.Fatalf("%s %s: data: %v: %s", method, path, err, b)
		}
	}
	return status, b
}

// wantError checks a response is the protocol's error envelope with the
// HTTP status as its code (LA §1.2) and returns its message.
func wantError(t testing.TB, status int, body []byte, want int) string {
	t.Helper()
	var e struct {
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if status != want {
		t.Fatalf("status %d, want %d: %s", status, want, body)
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error == nil || e.Error.Code != want || e.Error.Message == "" {
		t.Fatalf("not an error envelope with code %d: %s", want, body)
	}
	return e.Error.Message
}

// storedBlobs lists committed blobs and upload sessions left in the store.
func (e *env) storedBlobs() (blobs []string, sessions int) {
	e.t.Helper()
	return e.srv.Stored(e.t)
}

// uploadRows counts upload sessions in the metadata store.
func (e *env) uploadRows() int {
	e.t.Helper()
	ups, err := e.srv.Meta.ListExpiredUploads(context.Background(), time.Now().Add(1000*time.Hour))
	if err != nil {
		e.t.Fatal(err)
	}
	return len(ups)
}

// wantNothingStored checks no blob, blob session or upload row is left.
func (e *env) wantNothingStored() {
	e.t.Helper()
	blobs, sessions := e.storedBlobs()
	if len(blobs) != 0 || sessions != 0 || e.uploadRows() != 0 {
		e.t.Fatalf("left behind: blobs %v, %d blob sessions, %d upload rows", blobs, sessions, e.uploadRows())
	}
}

type configT = config.Config
