// Package search benchmarks GET /v1/search over HTTP against a real
// `silo serve` process, on SQLite and on PostgreSQL, over a library
// generated directly in the store (gen_test.go), and the server's start to
// ready on that database.
//
//	go test ./bench/search -run '^$' -bench . -benchtime 1x -timeout 0
//	go test ./bench/search -run '^$' -bench . -benchtime 1x -timeout 0 -containers 1000000
//
// -db sqlite or -db postgres runs one database; PostgreSQL is a
// throwaway cluster (internal/pgtest) unless -pg names a database.
// -dir (a SQLite data directory) and -pg keep the generated library, and
// a later run with the same flag measures it again without generating.
package search

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/pgtest"
	"github.com/silo-hpc/silo/internal/sqlmeta"
)

var (
	containers = flag.Int("containers", 100_000, "containers to generate")
	runs       = flag.Int("runs", 100, "timed requests per query (5 for the broad one)")
	starts     = flag.Int("starts", 5, "timed server starts")
	onlyDB     = flag.String("db", "", "sqlite or postgres (default both)")
	keepDir    = flag.String("dir", "", "SQLite data directory to generate into and keep, or to reuse")
	keepPG     = flag.String("pg", "", "PostgreSQL database URL to generate into and keep, or to reuse")
	only       = flag.String("only", "", "time only the queries whose name contains this")
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func BenchmarkSearch(b *testing.B) {
	bin := buildSilo(b)
	for _, db := range []string{"sqlite", "postgres"} {
		if *onlyDB != "" && *onlyDB != db {
			continue
		}
		b.Run(fmt.Sprintf("%s/%dk", db, *containers/1000), func(b *testing.B) {
			ctx := context.Background()
			dir, dsn := *keepDir, *keepPG
			if dir == "" {
				dir = b.TempDir()
			}
			var st meta.Store
			var err error
			var env []string
			if db == "sqlite" {
				st, err = sqlmeta.OpenSQLite(ctx, filepath.Join(dir, "silo.db"))
			} else {
				if dsn == "" {
					dsn = pgtest.DSN(b)
				}
				st, err = sqlmeta.OpenPostgres(ctx, dsn)
				env = append(env, "SILO_DATABASE="+dsn)
			}
			if err != nil {
				b.Fatal(err)
			}
			toks := library(b, st)
			st.Close()
			if db == "postgres" {
				analyze(b, dsn)
			}
			measure(b, bin, dir, env, toks)
		})
	}
}

// library generates the library in an empty store, or reuses the one
// there, and returns the searching users' tokens.
func library(b *testing.B, st meta.Store) tokens {
	ctx := context.Background()
	if n, err := st.CountUsers(ctx); err != nil || n == 0 {
		return generate(b, st, *containers)
	}
	b.Log("reusing the library in the database")
	a := auth.New(st)
	var t tokens
	var err error
	if t.insider, _, err = a.IssueToken(ctx, "insider", "bench", 0); err == nil {
		t.admin, _, err = a.IssueToken(ctx, "boss", "bench", 0)
	}
	if err != nil {
		b.Fatal(err)
	}
	return t
}

// analyze gathers the planner's statistics, as autovacuum does soon
// after a bulk load; without them PostgreSQL plans the searches for
// empty tables.
func analyze(b *testing.B, dsn string) {
	db, err := sql.Open("pgx", dsn)
	if err == nil {
		_, err = db.Exec("ANALYZE")
		db.Close()
	}
	if err != nil {
		b.Fatal(err)
	}
}

func measure(b *testing.B, bin, dir string, env []string, toks tokens) {
	var ready []time.Duration
	for range *starts {
		_, d, stop := startServer(b, bin, dir, env)
		ready = append(ready, d)
		stop()
	}
	url, _, stop := startServer(b, bin, dir, env)
	defer stop()
	slices.Sort(ready)
	b.ReportMetric(ms(ready[len(ready)/2]), "ready-p50-ms")
	b.ReportMetric(ms(ready[len(ready)-1]), "ready-max-ms")

	fmt.Printf("\n%s: start to ready p50 %.0f ms, max %.0f ms (%d starts)\n", b.Name(), ms(ready[len(ready)/2]), ms(ready[len(ready)-1]), len(ready))
	fmt.Printf("%-22s %5s %8s %8s %8s %8s  %s\n", "query", "runs", "p50 ms", "p99 ms", "max ms", "first ms", "hits (entity/collection/container/image)")
	for _, q := range []struct{ name, query, token string }{
		{"narrow", "value=" + narrowQuery, ""},
		{"hit", "value=" + hitQuery, ""},
		{"miss", "value=" + missQuery, ""},
		{"private/anonymous", "value=" + hushQuery, ""},
		{"private/team-member", "value=" + hushQuery, toks.insider},
		{"private/admin", "value=" + hushQuery, toks.admin},
		{"label/sparse", labelSparse, ""},
		{"label/dense+text", labelDense, ""},
		{"broad", "value=" + broadQuery, ""},
	} {
		if !strings.Contains(q.name, *only) {
			continue
		}
		n := *runs
		if q.name == "broad" {
			n = min(n, 5)
		}
		lat, first, hits := timeQuery(b, url+"/v1/search?arch=amd64&"+q.query, q.token, n)
		p50, p99 := lat[len(lat)/2], lat[(len(lat)*99+99)/100-1]
		fmt.Printf("%-22s %5d %8.2f %8.2f %8.2f %8.2f  %s\n", q.name, n, ms(p50), ms(p99), ms(lat[len(lat)-1]), ms(first), hits)
		name := strings.ReplaceAll(q.name, "/", "-")
		b.ReportMetric(ms(p50), name+"-p50-ms")
		b.ReportMetric(ms(p99), name+"-p99-ms")
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// warmRuns is how many untimed requests come before the timed ones (four
// times the server's search connections on two cores: internal/sqlmeta,
// searchConns). SQLite maps the database into memory per connection, so
// the first search of a kind on each connection pays the page faults of
// what it reads (at a million containers, 100–300 ms once, then 10–30
// ms); the timed runs measure a server whose connections have mostly
// done so. The first request's time is reported beside them.
const warmRuns = 16

// timeQuery requests url runs times after warmRuns untimed ones and
// returns the sorted latencies, the first request's, and the hit counts
// of the answer.
func timeQuery(b *testing.B, url, token string, runs int) ([]time.Duration, time.Duration, string) {
	var lat []time.Duration
	var first time.Duration
	var body []byte
	for i := range runs + warmRuns {
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		start := time.Now()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, err = io.ReadAll(res.Body)
		res.Body.Close()
		d := time.Since(start)
		if err != nil || res.StatusCode != http.StatusOK {
			b.Fatalf("%s: %d %v %s", url, res.StatusCode, err, body)
		}
		if i == 0 {
			first = d
		}
		if i >= warmRuns {
			lat = append(lat, d)
		}
	}
	slices.Sort(lat)
	return lat, first, countHits(body)
}

func countHits(body []byte) string {
	var res struct {
		Data struct{ Entity, Collection, Container, Image []json.RawMessage }
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return err.Error()
	}
	d := res.Data
	return fmt.Sprintf("%d/%d/%d/%d", len(d.Entity), len(d.Collection), len(d.Container), len(d.Image))
}

// buildSilo builds the working tree's silo, or returns SILO_BENCH_BIN
// when set: a build of another revision, to compare beside this one on
// the same library.
func buildSilo(b *testing.B) string {
	b.Helper()
	if bin := os.Getenv("SILO_BENCH_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(b.TempDir(), "silo")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/silo-hpc/silo/cmd/silo")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building silo: %v\n%s", err, out)
	}
	return bin
}

// startServer runs `silo serve` over the data directory and returns its
// URL, the time from process start to a 200 from /readyz, and a stop
// function.
func startServer(b *testing.B, bin, dir string, env []string) (string, time.Duration, func()) {
	b.Helper()
	addr := freeAddr(b)
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data-dir", dir)
	cmd.Env = append(append(os.Environ(), "SILO_LOG_LEVEL=warn"), env...)
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop := func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}
	url := "http://" + addr
	client := &http.Client{Timeout: time.Second}
	for time.Since(start) < 30*time.Second {
		if res, err := client.Get(url + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return url, time.Since(start), stop
			}
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	b.Fatal("server not ready after 30s")
	return "", 0, nil
}

func freeAddr(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
