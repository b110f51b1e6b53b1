package main_test

// These tests run the real `silo` binary the way the README tells a
// newcomer to: they check start-up, the admin bootstrap, restarts, the
// admin CLI and that bad settings fail with one FATAL line.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/pgtest"
)

var siloBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "silo-bin-")
	if err != nil {
		panic(err)
	}
	siloBin = filepath.Join(dir, "silo")
	if out, err := exec.Command("go", "build", "-o", siloBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building silo: %v\n%s", err, out)
		os.Exit(1)
	}
	code := pgtest.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running `silo serve` process.
type server struct {
	cmd    *exec.Cmd
	url    string
	mu     sync.Mutex
	output bytes.Buffer
	done   chan struct{}
}

var listenRe = regexp.MustCompile(`listening on (http://\S+)`)

// startServer runs `silo serve` on a free port and waits for its
// "listening on" line.
func startServer(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(siloBin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urlc := make(chan string, 1)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.output.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if m := listenRe.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
		cmd.Wait()
	}()
	select {
	case s.url = <-urlc:
	case <-s.done:
		t.Fatalf("server exited early:\n%s", s.Output())
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start:\n%s", s.Output())
	}
	t.Logf("server ready in %v", time.Since(start))
	t.Cleanup(func() { s.stop(t) })
	return s
}

func (s *server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.output.String()
}

// stop sends SIGTERM and waits for a graceful exit.
func (s *server) stop(t *testing.T) {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		t.Errorf("server did not shut down on SIGINT")
	}
}

func get(t *testing.T, url, bearer string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var tokenRe = regexp.MustCompile(`Admin API token \(shown once\): (\S+)`)

func TestFirstStartAndRestart(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, nil, "--data-dir", data)
	out := s.Output()
	m := tokenRe.FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "Admin password (shown once): ") {
		t.Fatalf("first start did not print admin credentials:\n%s", out)
	}
	token := m[1]
	if len(token) < 200 {
		t.Fatalf("token is %d characters; singularity needs >= 200", len(token))
	}
	if code, _ := get(t, s.url+"/healthz", ""); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	if code, body := get(t, s.url+"/readyz", ""); code != 200 {
		t.Fatalf("readyz: %d %s", code, body)
	}
	if code, body := get(t, s.url+"/version", ""); code != 200 || !strings.Contains(body, `"apiVersion":"2.0.0-alpha.2"`) {
		t.Fatalf("version: %d %s", code, body)
	}
	if code, _ := get(t, s.url+"/v1/token-status", token); code != 200 {
		t.Fatalf("token-status with the admin token: %d", code)
	}
	if code, body := get(t, s.url+"/metrics", ""); code != 200 || !strings.Contains(body, `silo_http_requests_total{code="200",method="GET",route="GET /healthz"}`) || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("metrics: %d\n%s", code, body)
	}
	s.stop(t)

	s2 := startServer(t, nil, "--data-dir", data)
	if strings.Contains(s2.Output(), "Created user") {
		t.Fatalf("restart created the admin again:\n%s", s2.Output())
	}
	if code, _ := get(t, s2.url+"/v1/token-status", token); code != 200 {
		t.Fatalf("token did not survive a restart: %d", code)
	}
}

// TestSecretsNeverInClear pre-seeds the admin credentials, uses them, and
// then greps the server's whole output and every database file for them.
func TestSecretsNeverInClear(t *testing.T) {
	data := t.TempDir()
	password := "correct-horse-battery-staple-7431"
	token := "silo_" + strings.Repeat("Zq9", 70)
	s := startServer(t, []string{"SILO_ADMIN_PASSWORD=" + password, "SILO_ADMIN_TOKEN=" + token}, "--data-dir", data)
	if code, _ := get(t, s.url+"/v1/token-status", token); code != 200 {
		t.Fatalf("pre-seeded token rejected: %d", code)
	}
	if code, _ := get(t, s.url+"/v1/token-status", token+"x"); code != 401 {
		t.Fatalf("wrong token accepted: %d", code)
	}
	// A token in a query string must not reach the logs either.
	get(t, s.url+"/v1/token-status?token="+token, token)
	cmd := exec.Command(siloBin, "admin", "--data-dir", data, "user", "add", "bob", "--password-stdin")
	cmd.Stdin = strings.NewReader(password + "-bob\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	s.stop(t)
	if out := s.Output(); strings.Contains(out, password) || strings.Contains(out, token) {
		t.Fatalf("a secret appears in the server output:\n%s", out)
	}
	err := filepath.Walk(data, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, secret := range []string{password, token, password + "-bob"} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s contains a secret in clear", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func runSilo(t *testing.T, stdin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(siloBin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func TestBadSettingsFailCleanly(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "a-file")
	os.WriteFile(file, []byte("x"), 0o600)
	badYAML := filepath.Join(tmp, "bad.yaml")
	os.WriteFile(badYAML, []byte("addr: \":8080\"\nno_such_key: 1\n"), 0o600)
	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unknown config key", nil, []string{"--config", badYAML}, "no_such_key"},
		{"missing config file", nil, []string{"--config", filepath.Join(tmp, "nope.yaml")}, "nope.yaml"},
		{"bad addr", nil, []string{"--addr", "nonsense"}, "addr"},
		{"bad env", []string{"SILO_DEFAULT_PRIVATE=maybe"}, nil, "SILO_DEFAULT_PRIVATE"},
		{"bad public url", nil, []string{"--public-url", "ftp://x"}, "public_url"},
		{"unwritable data dir", nil, []string{"--data-dir", filepath.Join(file, "sub")}, "data directory"},
		{"unreachable postgres", nil, []string{"--database", "postgres://silo@127.0.0.1:1/silo?connect_timeout=2"}, "metadata database"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", data}, tc.args...)
			_, stderr, code := runSilo(t, "", tc.env, args...)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code == 0 || len(lines) != 1 || !strings.HasPrefix(lines[0], "FATAL:   ") || !strings.Contains(lines[0], tc.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant one FATAL line mentioning %q", code, stderr, tc.want)
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Fatalf("data dir was created despite the failure (%v)", err)
			}
		})
	}
}

func TestCheckConfigReportsEveryProblem(t *testing.T) {
	_, stderr, code := runSilo(t, "", []string{"SILO_LOG_LEVEL=loud"}, "serve", "--check-config", "--addr", "x", "--public-url", "nope")
	if code == 0 {
		t.Fatal("check-config accepted a bad configuration")
	}
	for _, want := range []string{"addr", "public_url", "log.level"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("check-config did not report %s: %s", want, stderr)
		}
	}
	_, stderr, code = runSilo(t, "", nil, "serve", "--check-config")
	if code != 0 || !strings.Contains(stderr, "Configuration is valid") {
		t.Fatalf("good config: exit %d %s", code, stderr)
	}
}

func TestAdminCLI(t *testing.T) {
	data := t.TempDir()
	run := func(stdin string, args ...string) (string, string) {
		t.Helper()
		out, errOut, code := runSilo(t, stdin, nil, append([]string{"admin", "--data-dir", data}, args...)...)
		if code != 0 {
			t.Fatalf("silo admin %v: exit %d: %s", args, code, errOut)
		}
		return out, errOut
	}
	run("pw-alice-1\n", "user", "add", "alice", "--role", "manager", "--password-stdin")
	if _, errOut, code := runSilo(t, "", nil, "admin", "--data-dir", data, "user", "add", "alice"); code != 255 || !strings.HasPrefix(errOut, "FATAL:") {
		t.Fatalf("duplicate user: exit %d %q", code, errOut)
	}
	if _, errOut, code := runSilo(t, "", nil, "admin", "--data-dir", data, "user", "add", "Bad/Name"); code != 255 || !strings.Contains(errOut, "invalid user name") {
		t.Fatalf("bad name: exit %d %q", code, errOut)
	}
	tok, _ := run("", "token", "create", "alice", "--label", "ci", "--expires", "90d")
	tok = strings.TrimSpace(tok)
	if len(tok) < 200 || strings.Contains(tok, "\n") {
		t.Fatalf("token create printed %q", tok)
	}
	list, _ := run("", "token", "list", "alice")
	if !strings.Contains(list, "ci") || !strings.Contains(list, "active") || strings.Contains(list, tok) {
		t.Fatalf("token list:\n%s", list)
	}
	id := strings.Fields(strings.Split(list, "\n")[1])[0]

	// The server and the admin CLI share the database.
	s := startServer(t, nil, "--data-dir", data)
	if code, _ := get(t, s.url+"/v1/token-status", tok); code != 200 {
		t.Fatalf("token from the CLI rejected: %d", code)
	}
	run("", "token", "revoke", id)
	if code, _ := get(t, s.url+"/v1/token-status", tok); code != 401 {
		t.Fatalf("revoked token accepted: %d", code)
	}
	users, _ := run("", "user", "list")
	if !strings.Contains(users, "alice") || !strings.Contains(users, "manager") {
		t.Fatalf("user list:\n%s", users)
	}
	run("", "user", "disable", "alice")
	users, _ = run("", "user", "list")
	if !strings.Contains(users, "disabled") {
		t.Fatalf("user list after disable:\n%s", users)
	}
}

func TestPostgresBackend(t *testing.T) {
	dsn := pgtest.DSN(t)
	data := t.TempDir()
	s := startServer(t, []string{"SILO_DATABASE=" + dsn}, "--data-dir", data)
	m := tokenRe.FindStringSubmatch(s.Output())
	if m == nil {
		t.Fatalf("no admin token printed:\n%s", s.Output())
	}
	if code, _ := get(t, s.url+"/v1/token-status", m[1]); code != 200 {
		t.Fatalf("token-status on PostgreSQL: %d", code)
	}
	if _, err := os.Stat(filepath.Join(data, "silo.db")); !os.IsNotExist(err) {
		t.Fatalf("a SQLite file was created while using PostgreSQL")
	}

}

// Client commands must start fast: nothing costly may run at package
// initialisation, since every `silo` command pays for it. The Go runtime's
// init trace counts what each package's init allocates; an argon2id hash
// computed at init (20 MB) once made `silo version` take 90 ms.
func TestInitIsCheap(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"registry", "list"}} {
		cmd := exec.Command(siloBin, args...)
		cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1", "SILO_CONFIGDIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("silo %v: %v\n%s", args, err, out)
		}
		var total int64
		for _, line := range strings.Split(string(out), "\n") {
			// init <pkg> @<t> ms, <d> ms clock, <n> bytes, <k> allocs
			f := strings.Fields(line)
			if len(f) < 9 || f[0] != "init" {
				continue
			}
			var n int64
			fmt.Sscan(f[7], &n)
			total += n
		}
		if total == 0 || total > 4<<20 {
			t.Errorf("silo %v: package initialisation allocated %d bytes, want 1..4 MiB", args, total)
		}
	}
}
