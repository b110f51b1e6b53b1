package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/client/clienttest"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/servertest"
)

// Test harness for the client commands (registry, remote): run `silo` in
// process with its own HOME and config directory, and start the servers
// the commands talk to.

// siloRun is one in-process run of the CLI.
type siloRun struct {
	code           int
	stdout, stderr string
}

// runSilo runs `silo args...` with stdin and returns what it printed.
func runSilo(t *testing.T, stdin string, args ...string) siloRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Execute(args, strings.NewReader(stdin), &stdout, &stderr)
	return siloRun{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// expect checks the exit status and the exact stderr.
func (r siloRun) expect(t *testing.T, code int, stderr string) {
	t.Helper()
	if r.code != code || r.stderr != stderr {
		t.Errorf("exit %d, stderr:\n%s\nwant exit %d, stderr:\n%s", r.code, r.stderr, code, stderr)
	}
}

// expectFatal checks exit 255 and one FATAL line starting with prefix.
func (r siloRun) expectFatal(t *testing.T, prefix string) {
	t.Helper()
	if r.code != ExitFatal || !strings.HasPrefix(r.stderr, "FATAL:   "+prefix) || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 255 and one line starting %q", r.code, r.stderr, "FATAL:   "+prefix)
	}
}

// clientEnv lists every variable the client commands read.
var clientEnv = []string{
	"SILO_CONFIGDIR", "SILO_AUTHFILE", "SILO_LOGIN_USERNAME", "SILO_LOGIN_PASSWORD",
	"SILO_DOCKER_USERNAME", "SILO_DOCKER_PASSWORD", "DOCKER_USERNAME", "DOCKER_PASSWORD", "DOCKER_CONFIG",
	envConcurrency, envPartSize,
}

// isolate gives the test its own HOME and SILO_CONFIGDIR (a directory that
// does not exist yet, so its creation mode can be checked) and unsets the
// other credential variables. It returns the config directory.
func isolate(t *testing.T) string {
	t.Helper()
	for _, k := range clientEnv {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	dir := filepath.Join(home, "silo-config")
	t.Setenv("SILO_CONFIGDIR", dir)
	return dir
}

// registryTarget is a registry the login tests run against: a Basic-only
// fake, a Bearer fake, and the real in-process Silo server.
type registryTarget struct {
	name       string
	host       string
	user, pass string
	checkPath  string // the endpoint that rejects a wrong password
}

const testUser, testPass = "harness", "harnesspass"

func registryTargets(t *testing.T) []registryTarget {
	basic := clienttest.NewBasicRegistry(t, testUser, testPass)
	bearer := clienttest.NewBearerRegistry(t, testUser, testPass)
	silo := servertest.Start(t)
	siloPass, _ := silo.User(t, testUser, meta.RoleUser)
	return []registryTarget{
		{name: "basic-only", host: basic.Host, user: testUser, pass: testPass, checkPath: "/v2/"},
		{name: "bearer", host: bearer.Host, user: testUser, pass: testPass, checkPath: "/v2/token"},
		{name: "silo", host: silo.Host, user: testUser, pass: siloPass, checkPath: "/v2/token"},
	}
}

// libraryToken is a token the library stub accepts (Silo tokens are
// 200..4096 characters, as Singularity requires).
var libraryToken = clienttest.Token(240)

func startLibrary(t *testing.T) *clienttest.Server {
	return clienttest.NewLibrary(t, clienttest.Library{Token: libraryToken, Username: "alice", Email: "alice@example.org", Version: "silo-test"})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// readIfExists returns the file's content, or "<absent>".
func readIfExists(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return "<absent>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %#o, want %#o", path, got, want)
	}
}

const fixtureDir = "../../testdata/singularity-4.3.3"
