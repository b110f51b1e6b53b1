package sqlmeta

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/metatest"
)

// TestReadCacheSeesEveryCommit checks the read cache (readcache.go) is
// used and is exact: after a write, by this Store, by another Store of
// this process or by another process (as `silo admin` revokes), the next
// read answers what the database holds.
func TestReadCacheSeesEveryCommit(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "silo.db")
	s := openTestSQLite(t, path)
	if _, ok := s.wal.version(); !ok {
		t.Fatal("the WAL-index header is not readable: nothing would be cached")
	}
	u := metatest.MkUser(t, s, "alice")
	tok := meta.Token{UserID: u.ID, Hash: "h1"}
	mustDo(t, s.CreateToken(ctx, &tok))
	repo := meta.Repository{Name: "alice/repo"}
	mustDo(t, s.CreateRepository(ctx, &repo))
	for _, d := range []string{"sha256:" + strings.Repeat("a", 64), "sha256:" + strings.Repeat("b", 64)} {
		m := meta.Manifest{RepositoryID: repo.ID, Digest: d, MediaType: "application/vnd.oci.image.manifest.v1+json", Content: []byte(`{"d":"` + d + `"}`)}
		mustDo(t, s.PutManifest(ctx, &m, nil))
	}
	mustDo(t, s.PutTag(ctx, &meta.Tag{RepositoryID: repo.ID, Name: "latest", Digest: "sha256:" + strings.Repeat("a", 64)}))

	// revoked and tagged read the token and the tag twice: the second
	// read of each must come from the cache.
	revoked := func() bool {
		t.Helper()
		return readTwice(t, &s.tokensByHash.hits, "token", func() (meta.Token, error) {
			got, _, err := s.GetTokenByHash(ctx, "h1")
			return got, err
		}).Revoked
	}
	tagged := func() string {
		t.Helper()
		return readTwice(t, &s.manifests.hits, "manifest", func() (meta.ManifestLookup, error) {
			return s.LookupManifest(ctx, "alice/repo", "latest", "")
		}).Manifest.Digest
	}
	if revoked() || tagged() != "sha256:"+strings.Repeat("a", 64) {
		t.Fatal("wrong first answers")
	}

	// Another process.
	helper(t, path, "revoke", tok.ID)
	if !revoked() {
		t.Fatal("a token revoked by another process still reads live")
	}
	helper(t, path, "tag", repo.ID)
	if got := tagged(); got != "sha256:"+strings.Repeat("b", 64) {
		t.Fatalf("a tag moved by another process reads %s", got)
	}

	if u, err := s.GetUser(ctx, u.ID); err != nil || u.Disabled {
		t.Fatalf("user: %+v, %v", u, err)
	}
	helper(t, path, "disable", u.ID)
	if got := readTwice(t, &s.usersByID.hits, "user", func() (meta.User, error) { return s.GetUser(ctx, u.ID) }); !got.Disabled {
		t.Fatalf("a user disabled by another process reads %+v", got)
	}

	// Another Store of this process, then this one.
	o := openTestSQLite(t, path)
	mustDo(t, o.PutTag(ctx, &meta.Tag{RepositoryID: repo.ID, Name: "latest", Digest: "sha256:" + strings.Repeat("a", 64)}))
	if got := tagged(); got != "sha256:"+strings.Repeat("a", 64) {
		t.Fatalf("a tag moved by another Store reads %s", got)
	}
	mustDo(t, s.DeleteManifest(ctx, repo.ID, "sha256:"+strings.Repeat("a", 64)))
	if l, err := s.LookupManifest(ctx, "alice/repo", "latest", ""); err != nil || l.Found {
		t.Fatalf("a deleted manifest's tag reads %+v, %v", l, err)
	}

	// Inside a transaction reads see its own writes, never the cache.
	mustDo(t, s.InTx(ctx, func(tx meta.Store) error {
		if err := tx.PutTag(ctx, &meta.Tag{RepositoryID: repo.ID, Name: "latest", Digest: "sha256:" + strings.Repeat("b", 64)}); err != nil {
			return err
		}
		l, err := tx.LookupManifest(ctx, "alice/repo", "latest", "")
		if err == nil && l.Manifest.Digest != "sha256:"+strings.Repeat("b", 64) {
			t.Errorf("inside the transaction the tag reads %q", l.Manifest.Digest)
		}
		return err
	}))
}

// TestReadCacheHelperProcess is the other process of
// TestReadCacheSeesEveryCommit; it does nothing when run as a test.
func TestReadCacheHelperProcess(t *testing.T) {
	path := os.Getenv("SILO_READCACHE_DB")
	if path == "" {
		t.Skip("the helper of TestReadCacheSeesEveryCommit")
	}
	ctx := context.Background()
	s := openTestSQLite(t, path)
	switch arg := os.Getenv("SILO_READCACHE_ARG"); os.Getenv("SILO_READCACHE_DO") {
	case "revoke":
		mustDo(t, s.RevokeToken(ctx, arg))
	case "disable":
		u, err := s.GetUser(ctx, arg)
		mustDo(t, err)
		u.Disabled = true
		mustDo(t, s.UpdateUser(ctx, &u))
	case "tag":
		mustDo(t, s.PutTag(ctx, &meta.Tag{RepositoryID: arg, Name: "latest", Digest: "sha256:" + strings.Repeat("b", 64)}))
	}
}

func helper(t *testing.T, path, do, arg string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestReadCacheHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SILO_READCACHE_DB="+path, "SILO_READCACHE_DO="+do, "SILO_READCACHE_ARG="+arg)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper process %s: %v\n%s", do, err, out)
	}
}

// readTwice reads twice and fails unless exactly the second read came
// from the cache (hits is the cache's counter).
func readTwice[V any](t *testing.T, hits *atomic.Int64, what string, read func() (V, error)) V {
	t.Helper()
	before := hits.Load()
	var v V
	for range 2 {
		var err error
		if v, err = read(); err != nil {
			t.Fatal(err)
		}
	}
	if n := hits.Load() - before; n != 1 {
		t.Fatalf("%s lookups served from the cache: %d, want 1", what, n)
	}
	return v
}

// TestReadCacheRevocationUnderLoad: readers look a token up without pause
// while other writes churn the database; once RevokeToken has returned,
// no lookup that starts afterwards may find the token live.
func TestReadCacheRevocationUnderLoad(t *testing.T) {
	ctx := context.Background()
	s := openTestSQLite(t, filepath.Join(t.TempDir(), "silo.db"))
	u := metatest.MkUser(t, s, "alice")
	tok := meta.Token{UserID: u.ID, Hash: "h1"}
	mustDo(t, s.CreateToken(ctx, &tok))

	// The live token is in the cache before the readers start.
	readTwice(t, &s.tokensByHash.hits, "token", func() (meta.Token, error) {
		got, _, err := s.GetTokenByHash(ctx, "h1")
		return got, err
	})

	// Each reader stops after reads lookups started after the revocation,
	// or at its first error.
	const readers, reads = 4, 200
	var revoked atomic.Bool
	var wg sync.WaitGroup
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for after := 0; after < reads; {
				was := revoked.Load()
				got, _, err := s.GetTokenByHash(ctx, "h1")
				if err != nil {
					t.Error(err)
					return
				}
				if was {
					if !got.Revoked {
						t.Error("a lookup started after RevokeToken returned found the token live")
						return
					}
					after++
				}
			}
		}()
	}
	churn := func(n int) {
		for i := range n {
			mustDo(t, s.CreateToken(ctx, &meta.Token{UserID: u.ID, Hash: fmt.Sprintf("other-%d-%t", i, revoked.Load())}))
		}
	}
	churn(50)
	mustDo(t, s.RevokeToken(ctx, tok.ID))
	revoked.Store(true)
	churn(50)
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(time.Minute):
		t.Fatal("readers did not finish")
	}
}
