// Package pgtest starts a throwaway PostgreSQL cluster on 127.0.0.1 for
// tests (initdb + pg_ctl from Debian's postgresql package) and hands each
// test a fresh database. One cluster serves a whole test binary; Main stops
// it. Locally a missing PostgreSQL skips; in CI (SILO_REQUIRE_TOOLS=1) it
// fails.
package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
)

var (
	once    sync.Once
	cluster struct {
		dir, bin string
		port     int
		err      error
	}
	dbSeq atomic.Int64
)

// Main runs the tests and then stops the cluster if one was started.
func Main(m *testing.M) int {
	code := m.Run()
	if cluster.dir != "" {
		stop()
	}
	return code
}

// DSN returns the URL of a new, empty database.
func DSN(t testing.TB) string {
	t.Helper()
	once.Do(start)
	if cluster.err != nil {
		if os.Getenv("SILO_REQUIRE_TOOLS") == "1" {
			t.Fatalf("PostgreSQL is required (SILO_REQUIRE_TOOLS=1): %v", cluster.err)
		}
		t.Skipf("PostgreSQL not available: %v", cluster.err)
	}
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	admin, err := sql.Open("pgx", url("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	return url(name)
}

func url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", cluster.port, db)
}

func findBin() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(matches) == 0 {
		return "", fmt.Errorf("pg_ctl not found (install Debian's postgresql)")
	}
	return filepath.Dir(matches[len(matches)-1]), nil
}

func start() {
	bin, err := findBin()
	if err != nil {
		cluster.err = err
		return
	}
	dir, err := os.MkdirTemp("", "silo-pgtest-")
	if err != nil {
		cluster.err = err
		return
	}
	cluster.dir, cluster.bin, cluster.port = dir, bin, freePort()
	if err := chownToPostgres(dir); err != nil {
		cluster.err = err
		return
	}
	if err := run(filepath.Join(bin, "initdb"), "-D", dir, "-U", "postgres", "--auth=trust", "-E", "UTF8"); err != nil {
		cluster.err = fmt.Errorf("initdb: %w", err)
		return
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s -c fsync=off -c max_connections=200", cluster.port, dir)
	if err := run(filepath.Join(bin, "pg_ctl"), "-D", dir, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start"); err != nil {
		cluster.err = fmt.Errorf("pg_ctl start: %w", err)
	}
}

func stop() {
	_ = run(filepath.Join(cluster.bin, "pg_ctl"), "-D", cluster.dir, "-m", "immediate", "-w", "stop")
	os.RemoveAll(cluster.dir)
}

// run executes a PostgreSQL program, as the postgres user when we are root
// (initdb refuses to run as root).
func run(prog string, args ...string) error {
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", prog}, args...)...)
	} else {
		cmd = exec.Command(prog, args...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

func chownToPostgres(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root needs a postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(dir, uid, gid)
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 55432
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Cluster is a PostgreSQL cluster of a test's own, which the test may stop
// and start again (fault tests); the shared one serves everything else.
type Cluster struct {
	dir, bin string
	port     int
}

// Own starts a cluster for the calling test, stopped when it ends. It
// skips (or, with SILO_REQUIRE_TOOLS=1, fails) like DSN.
func Own(t testing.TB) *Cluster {
	t.Helper()
	fail := func(err error) {
		if os.Getenv("SILO_REQUIRE_TOOLS") == "1" {
			t.Fatalf("PostgreSQL is required (SILO_REQUIRE_TOOLS=1): %v", err)
		}
		t.Skipf("PostgreSQL not available: %v", err)
	}
	bin, err := findBin()
	if err != nil {
		fail(err)
	}
	dir, err := os.MkdirTemp("", "silo-pgtest-own-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{dir: dir, bin: bin, port: freePort()}
	t.Cleanup(func() { c.Stop(); os.RemoveAll(dir) })
	if err := chownToPostgres(dir); err != nil {
		fail(err)
	}
	if err := run(filepath.Join(bin, "initdb"), "-D", dir, "-U", "postgres", "--auth=trust", "-E", "UTF8"); err != nil {
		t.Fatalf("initdb: %v", err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	return c
}

// Start starts the cluster (again), on the same port and data.
func (c *Cluster) Start() error {
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s -c fsync=off", c.port, c.dir)
	if err := run(filepath.Join(c.bin, "pg_ctl"), "-D", c.dir, "-o", opts, "-l", filepath.Join(c.dir, "log"), "-w", "start"); err != nil {
		return fmt.Errorf("pg_ctl start: %w", err)
	}
	return nil
}

// Stop stops the cluster at once, as a crash would ("immediate" mode).
func (c *Cluster) Stop() {
	_ = run(filepath.Join(c.bin, "pg_ctl"), "-D", c.dir, "-m", "immediate", "-w", "stop")
}

// DSN returns the URL of a new, empty database of the cluster.
func (c *Cluster) DSN(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	url := func(db string) string {
		return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
	}
	admin, err := sql.Open("pgx", url("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	return url(name)
}
