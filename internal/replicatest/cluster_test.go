package replicatest

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/silo-hpc/silo/internal/config"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/pgtest"
	"github.com/silo-hpc/silo/internal/s3blob"
	"github.com/silo-hpc/silo/internal/s3test"
	"github.com/silo-hpc/silo/internal/servertest"
)

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	s3test.StopShared()
	os.Exit(code)
}

// cluster is n replicas sharing a database and a bucket, behind a
// balancer.
type cluster struct {
	t        *testing.T
	replicas []*servertest.Server
	lb       *balancer
	URL      string // the balancer's http://127.0.0.1:port
	Host     string // the balancer's 127.0.0.1:port
	S3       *s3test.Server
	Bucket   string
	DSN      string
	tokens   map[string]string
}

// sharedConfig is what every replica of one deployment shares: the
// database, the bucket and the token signing key.
func sharedConfig(t *testing.T, s3 *s3test.Server, bucket, dsn string) func(*config.Config) {
	key := filepath.Join(t.TempDir(), "signing.key")
	b := make([]byte, 32)
	rand.Read(b)
	if err := os.WriteFile(key, []byte(hex.EncodeToString(b)), 0o600); err != nil {
		t.Fatal(err)
	}
	return func(c *config.Config) {
		c.Database = dsn
		c.Storage = config.StorageS3
		c.S3 = config.S3{Endpoint: s3.Endpoint, Bucket: bucket, Region: s3test.Region, AccessKey: s3.AccessKey,
			SecretKey: s3.SecretKey, PathStyle: true, PartSize: s3blob.MinPartSize}
		c.Auth.SigningKeyFile = key
	}
}

// newCluster starts n replicas on a new database and bucket; edit
// adjusts every replica's configuration.
func newCluster(t *testing.T, n int, edit ...func(*config.Config)) *cluster {
	t.Helper()
	c := &cluster{t: t, DSN: pgtest.DSN(t), S3: s3test.Shared(t), tokens: map[string]string{}}
	c.Bucket = c.S3.Bucket(t)
	shared := sharedConfig(t, c.S3, c.Bucket, c.DSN)
	for range n {
		c.replicas = append(c.replicas, servertest.Start(t, append([]func(*config.Config){shared}, edit...)...))
	}
	urls := make([]string, n)
	for i, r := range c.replicas {
		urls[i] = r.URL
	}
	c.lb = newBalancer(t, urls)
	ts := httptest.NewServer(c.lb)
	t.Cleanup(ts.Close)
	c.URL, c.Host = ts.URL, strings.TrimPrefix(ts.URL, "http://")
	for _, name := range []string{"alice", "bob"} {
		_, tok := c.replicas[0].User(t, name, meta.RoleUser)
		c.tokens[name] = tok
	}
	return c
}

// balancer spreads requests over replicas round-robin, counting requests
// that carry upload data (a body sent to an upload URL) apart from the
// others, so consecutive chunks or parts of one upload always go to
// different replicas.
type balancer struct {
	proxies []*httputil.ReverseProxy
	data    atomic.Int64
	other   atomic.Int64
	mu      sync.Mutex
	served  map[string][]int // data request "METHOD path" -> replicas that served it
}

func newBalancer(t *testing.T, urls []string) *balancer {
	b := &balancer{served: map[string][]int{}}
	for _, u := range urls {
		target, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		p := httputil.NewSingleHostReverseProxy(target)
		p.FlushInterval = -1
		b.proxies = append(b.proxies, p)
	}
	return b
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var i int
	upload := strings.Contains(r.URL.Path, "/_upload/") || strings.Contains(r.URL.Path, "/blobs/uploads/")
	if upload && r.ContentLength != 0 && (r.Method == http.MethodPut || r.Method == http.MethodPatch) {
		i = int(b.data.Add(1)-1) % len(b.proxies)
		b.mu.Lock()
		key := r.Method + " " + r.URL.Path
		b.served[key] = append(b.served[key], i)
		b.mu.Unlock()
	} else {
		i = int(b.other.Add(1)-1) % len(b.proxies)
	}
	b.proxies[i].ServeHTTP(w, r)
}

// replicasFor returns which replicas served data requests whose
// "METHOD path" contains substr, in order.
func (b *balancer) replicasFor(substr string) []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []int
	for k, v := range b.served {
		if strings.Contains(k, substr) {
			out = append(out, v...)
		}
	}
	return out
}

// both reports whether replicas 0 and 1 are both in rs.
func both(rs []int) bool {
	seen := map[int]bool{}
	for _, r := range rs {
		seen[r] = true
	}
	return seen[0] && seen[1]
}
