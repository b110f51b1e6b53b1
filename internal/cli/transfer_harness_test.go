package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/servertest"
	"github.com/silo-hpc/silo/internal/sifinspect/sifinspecttest"
)

// Harness for the transfer and catalogue commands (pull, push, search,
// list, delete, labels, images...): the real composed server over HTTP,
// `silo` run in process against it with its own config directory.

// libEnv is a server with users alice, bob (users) and root (admin), and
// a remote "silo" pointing at it, logged in as alice.
type libEnv struct {
	t      *testing.T
	srv    *servertest.Server
	tokens map[string]string
	cfg    string // SILO_CONFIGDIR
}

func newLibEnv(t *testing.T) *libEnv {
	t.Helper()
	e := &libEnv{t: t, cfg: isolate(t), srv: servertest.Start(t), tokens: map[string]string{}}
	for name, role := range map[string]meta.Role{"alice": meta.RoleUser, "bob": meta.RoleUser, "root": meta.RoleAdmin} {
		_, e.tokens[name] = e.srv.User(t, name, role)
	}
	e.mustRun("", "remote", "add", "--insecure", "--no-login", "silo", e.srv.Host)
	e.login("alice")
	return e
}

// login stores user's token in the remote ("" logs out).
func (e *libEnv) login(user string) {
	e.t.Helper()
	if user == "" {
		e.mustRun("", "remote", "logout", "silo")
		return
	}
	e.mustRun("", "remote", "login", "--tokenfile", writeTokenFile(e.t, e.tokens[user]), "silo")
}

// run runs silo; mustRun also requires success.
func (e *libEnv) run(stdin string, args ...string) siloRun { return runSilo(e.t, stdin, args...) }

func (e *libEnv) mustRun(stdin string, args ...string) siloRun {
	e.t.Helper()
	r := runSilo(e.t, stdin, args...)
	if r.code != 0 {
		e.t.Fatalf("silo %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// push uploads file to ref as the logged-in user with `silo push -U`.
func (e *libEnv) push(file, ref string) {
	e.t.Helper()
	e.mustRun("", "push", "-U", file, ref)
}

// api calls the server's Library API as user and decodes data into out.
func (e *libEnv) api(method, path, user string, body string, out any) int {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		var env struct{ Data json.RawMessage }
		if err := json.Unmarshal(b, &env); err != nil || json.Unmarshal(env.Data, out) != nil {
			e.t.Fatalf("%s %s: %s", method, path, b)
		}
	}
	return resp.StatusCode
}

// freeze freezes entity/collection/container (as its owner).
func (e *libEnv) freeze(owner, path string) {
	e.t.Helper()
	var k struct{ ID string }
	e.api("GET", "/v1/containers/"+path, owner, "", &k)
	if st := e.api("PUT", "/v1/containers/"+k.ID, owner, `{"frozen": true}`, nil); st != http.StatusOK {
		e.t.Fatalf("freeze %s: %d", path, st)
	}
}

// makePrivate makes entity/collection private (as its owner).
func (e *libEnv) makePrivate(owner, path string) {
	e.t.Helper()
	var c struct{ ID string }
	e.api("GET", "/v1/collections/"+path, owner, "", &c)
	if st := e.api("PUT", "/v1/collections/"+c.ID, owner, `{"private": true}`, nil); st != http.StatusOK {
		e.t.Fatalf("private %s: %d", path, st)
	}
}

// storage is where the catalogue keeps collection/container:tag@version.
func (e *libEnv) storage(collection, container, tag, version string) string {
	return filepath.Join(e.cfg, "images", collection, container, tag+"@"+version+".sif")
}

// blobPath is where the server's filesystem store keeps a blob.
func (e *libEnv) blobPath(hexDigest string) string {
	return filepath.Join(e.srv.Config.BlobDir(), "blobs", "sha256", hexDigest[:2], hexDigest)
}

// makeSIF writes a SIF whose primary partition is size pseudo-random
// bytes (equal seeds give equal files) for arch.
func makeSIF(t testing.TB, arch string, size int64, seed uint64) string {
	return sifinspecttest.RandomSIF(t, fmt.Sprintf("img-%s-%d.sif", arch, seed), arch, size, seed)
}

func sha256File(t testing.TB, path string) string {
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
	return hex.EncodeToString(h.Sum(nil))
}

func sameFile(t testing.TB, got, want string) {
	t.Helper()
	a, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("%s (%d bytes) differs from %s (%d bytes)", got, len(a), want, len(b))
	}
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// expectOut checks exit 0, an empty stderr and the exact stdout.
func (r siloRun) expectOut(t *testing.T, stdout string) {
	t.Helper()
	if r.code != 0 || r.stdout != stdout || r.stderr != "" {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 0, stdout:\n%s", r.code, r.stdout, r.stderr, stdout)
	}
}

// expectFatalAfter checks exit 255 and a stderr of before, then one FATAL
// line starting with prefix.
func (r siloRun) expectFatalAfter(t *testing.T, before, prefix string) {
	t.Helper()
	rest, ok := strings.CutPrefix(r.stderr, before)
	if !ok {
		t.Errorf("stderr:\n%s\nwant it to start with:\n%s", r.stderr, before)
		return
	}
	siloRun{code: r.code, stderr: rest}.expectFatal(t, prefix)
}

// transport wraps transferHTTP's transport for one test: hook sees every
// request and may answer it itself (resp != nil) or let it through.
func wrapTransfers(t *testing.T, hook func(req *http.Request, next http.RoundTripper) (*http.Response, error)) {
	t.Helper()
	old := transferHTTP.Transport
	transferHTTP.Transport = roundTripper(func(req *http.Request) (*http.Response, error) { return hook(req, old) })
	t.Cleanup(func() { transferHTTP.Transport = old })
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// requestLog records "METHOD path Range" of the requests that pass.
type requestLog struct {
	mu   sync.Mutex
	reqs []string
}

func (l *requestLog) add(req *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := req.Method + " " + req.URL.Path
	if r := req.Header.Get("Range"); r != "" {
		s += " " + r
	}
	l.reqs = append(l.reqs, s)
}

func (l *requestLog) matching(prefix string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.reqs {
		if strings.HasPrefix(r, prefix) {
			out = append(out, r)
		}
	}
	return out
}

// Golden files: testdata/golden/<name>.txt hold what a command printed,
// with the values that change from run to run replaced by {{NAME}}.
// go test ./internal/cli -run X -update rewrites them.
var update = flag.Bool("update", false, "rewrite golden files")

var dateLike = regexp.MustCompile(`(January|February|March|April|May|June|July|August|September|October|November|December) \d\d, \d{4}` +
	`|[A-Z][a-z]{2} \d\d, \d{4} \d\d:\d\d[AP]M|\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?`)

// sizeLike is a human size (squashfs images differ by a few bytes from
// build to build: their files' times).
var sizeLike = regexp.MustCompile(`\b\d+\.\d [KMG]iB\b`)

// idLike is a server id (random 24 hex digits).
var idLike = regexp.MustCompile(`"[0-9a-f]{24}"`)

// golden compares got with the golden file after replacing each value of
// vars by its {{key}} and dates by {{DATE}}.
func golden(t *testing.T, name, got string, vars map[string]string) {
	t.Helper()
	for k, v := range vars {
		if v != "" {
			got = strings.ReplaceAll(got, v, "{{"+k+"}}")
		}
	}
	got = dateLike.ReplaceAllString(got, "{{DATE}}")
	got = sizeLike.ReplaceAllString(got, "{{SIZE}}")
	got = idLike.ReplaceAllString(got, `"{{ID}}"`)
	path := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
