// Package metatest is the one contract suite every meta.Store
// implementation runs (SQLite and PostgreSQL).
package metatest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

// NewStore returns a fresh, empty, migrated store for one subtest.
type NewStore func(t *testing.T) meta.Store

// Run runs the whole contract.
func Run(t *testing.T, newStore NewStore) {
	t.Run("users", func(t *testing.T) { testUsers(t, newStore(t)) })
	t.Run("tokens", func(t *testing.T) { testTokens(t, newStore(t)) })
	t.Run("teams", func(t *testing.T) { testTeams(t, newStore(t)) })
	t.Run("namespaces", func(t *testing.T) { testNamespaces(t, newStore(t)) })
	t.Run("uploads", func(t *testing.T) { testUploads(t, newStore(t)) })
	t.Run("transactions", func(t *testing.T) { testTx(t, newStore(t)) })
	t.Run("concurrent-writers", func(t *testing.T) { testConcurrent(t, newStore(t)) })
	t.Run("concurrent-get-or-create", func(t *testing.T) { testGetOrCreate(t, newStore(t)) })
	t.Run("library", func(t *testing.T) { testLibrary(t, newStore) })
	t.Run("oci", func(t *testing.T) { testOCI(t, newStore) })
	t.Run("blob-life", func(t *testing.T) { testBlobLife(t, newStore) })
	t.Run("quotas", func(t *testing.T) { testQuotas(t, newStore(t)) })
	t.Run("sregistry", func(t *testing.T) { testSRegistry(t, newStore) })
	t.Run("keyring", func(t *testing.T) { testKeyring(t, newStore) })
	t.Run("web", func(t *testing.T) { testWeb(t, newStore) })
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if !apperr.Is(err, code) {
		t.Fatalf("got error %v (code %s), want code %s", err, apperr.CodeOf(err), code)
	}
}

// MkUser creates a user for tests that need an owner.
func MkUser(t *testing.T, s meta.Store, name string) meta.User {
	t.Helper()
	u := meta.User{Name: name, Role: meta.RoleUser, PasswordHash: "x"}
	must(t, s.CreateUser(context.Background(), &u))
	return u
}

// MkContainer creates entity/collection/container for tests.
func MkContainer(t *testing.T, s meta.Store, owner meta.User, e, c, n string) (meta.Entity, meta.Collection, meta.Container) {
	t.Helper()
	ctx := context.Background()
	ent, err := s.GetEntityByName(ctx, e)
	if apperr.Is(err, apperr.NotFound) {
		ent = meta.Entity{Name: e, OwnerID: owner.ID}
		err = s.CreateEntity(ctx, &ent)
	}
	must(t, err)
	col, err := s.GetCollectionByName(ctx, ent.ID, c)
	if apperr.Is(err, apperr.NotFound) {
		col = meta.Collection{EntityID: ent.ID, Name: c, OwnerID: owner.ID}
		err = s.CreateCollection(ctx, &col)
	}
	must(t, err)
	con := meta.Container{CollectionID: col.ID, Name: n}
	must(t, s.CreateContainer(ctx, &con))
	return ent, col, con
}

func testUsers(t *testing.T, s meta.Store) {
	ctx := context.Background()
	u := meta.User{Name: "alice", Email: "a@example.org", Role: meta.RoleAdmin, PasswordHash: "$argon2id$..."}
	must(t, s.CreateUser(ctx, &u))
	if u.ID == "" || u.CreatedAt.IsZero() {
		t.Fatalf("create did not fill id/created: %+v", u)
	}
	dup := meta.User{Name: "alice", Role: meta.RoleUser}
	wantCode(t, s.CreateUser(ctx, &dup), apperr.Conflict)
	got, err := s.GetUserByName(ctx, "alice")
	must(t, err)
	if got.ID != u.ID || got.Role != meta.RoleAdmin || got.Email != u.Email || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Fatalf("got %+v, want %+v", got, u)
	}
	got.Disabled, got.Role = true, meta.RoleManager
	must(t, s.UpdateUser(ctx, &got))
	again, err := s.GetUser(ctx, u.ID)
	must(t, err)
	if !again.Disabled || again.Role != meta.RoleManager {
		t.Fatalf("update lost: %+v", again)
	}
	_, err = s.GetUser(ctx, "nope")
	wantCode(t, err, apperr.NotFound)
	_, err = s.GetUserByName(ctx, "nope")
	wantCode(t, err, apperr.NotFound)
	missing := meta.User{ID: "nope", Name: "x", Role: meta.RoleUser}
	wantCode(t, s.UpdateUser(ctx, &missing), apperr.NotFound)
	MkUser(t, s, "bob")
	n, err := s.CountUsers(ctx)
	must(t, err)
	list, err := s.ListUsers(ctx)
	must(t, err)
	if n != 2 || len(list) != 2 || list[0].Name != "alice" || list[1].Name != "bob" {
		t.Fatalf("count %d, list %+v", n, list)
	}
}

func testTokens(t *testing.T, s meta.Store) {
	ctx := context.Background()
	u := MkUser(t, s, "alice")
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	tok := meta.Token{UserID: u.ID, Label: "laptop", Hash: "h1", ExpiresAt: exp}
	must(t, s.CreateToken(ctx, &tok))
	wantCode(t, s.CreateToken(ctx, &meta.Token{UserID: u.ID, Hash: "h1"}), apperr.Conflict)
	got, owner, err := s.GetTokenByHash(ctx, "h1")
	must(t, err)
	if got.ID != tok.ID || got.Label != "laptop" || !got.ExpiresAt.Equal(exp) || !got.LastUsedAt.IsZero() || got.Revoked || owner.ID != u.ID || owner.Name != u.Name {
		t.Fatalf("got %+v of %+v", got, owner)
	}
	used := time.Now().UTC().Truncate(time.Microsecond)
	must(t, s.TouchToken(ctx, tok.ID, used))
	must(t, s.RevokeToken(ctx, tok.ID))
	got, owner, err = s.GetToken(ctx, tok.ID)
	must(t, err)
	if !got.Revoked || !got.LastUsedAt.Equal(used) || owner.ID != u.ID {
		t.Fatalf("after touch+revoke: %+v", got)
	}
	wantCode(t, s.RevokeToken(ctx, "nope"), apperr.NotFound)
	_, _, err = s.GetTokenByHash(ctx, "nope")
	wantCode(t, err, apperr.NotFound)
	must(t, s.CreateToken(ctx, &meta.Token{UserID: u.ID, Hash: "h2"}))
	list, err := s.ListTokens(ctx, u.ID)
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("list: %+v", list)
	}
	wantCode(t, s.CreateToken(ctx, &meta.Token{UserID: "no-such-user", Hash: "h3"}), apperr.Internal)
}

func testTeams(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice, bob := MkUser(t, s, "alice"), MkUser(t, s, "bob")
	_, col, _ := MkContainer(t, s, alice, "alice", "private", "app")
	team := meta.Team{Name: "lab"}
	must(t, s.CreateTeam(ctx, &team))
	wantCode(t, s.CreateTeam(ctx, &meta.Team{Name: "lab"}), apperr.Conflict)
	ok, err := s.IsCollectionReader(ctx, col.ID, bob.ID)
	must(t, err)
	if ok {
		t.Fatal("bob reads before any grant")
	}
	must(t, s.AddTeamMember(ctx, team.ID, bob.ID))
	must(t, s.AddTeamMember(ctx, team.ID, bob.ID)) // idempotent
	must(t, s.GrantCollection(ctx, col.ID, team.ID))
	if ok, err = s.IsCollectionReader(ctx, col.ID, bob.ID); err != nil || !ok {
		t.Fatalf("bob should read: %v %v", ok, err)
	}
	members, err := s.ListTeamMembers(ctx, team.ID)
	must(t, err)
	if len(members) != 1 || members[0].Name != "bob" {
		t.Fatalf("members %+v", members)
	}
	must(t, s.RevokeCollection(ctx, col.ID, team.ID))
	if ok, _ = s.IsCollectionReader(ctx, col.ID, bob.ID); ok {
		t.Fatal("bob reads after revoke")
	}
	must(t, s.RemoveTeamMember(ctx, team.ID, bob.ID))
	wantCode(t, s.RemoveTeamMember(ctx, team.ID, bob.ID), apperr.NotFound)
	got, err := s.GetTeamByName(ctx, "lab")
	must(t, err)
	if got.ID != team.ID {
		t.Fatalf("team %+v", got)
	}
}

func testNamespaces(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice := MkUser(t, s, "alice")
	ent, col, con := MkContainer(t, s, alice, "alice", "tools", "python")
	wantCode(t, s.CreateEntity(ctx, &meta.Entity{Name: "alice"}), apperr.Conflict)
	wantCode(t, s.CreateCollection(ctx, &meta.Collection{EntityID: ent.ID, Name: "tools"}), apperr.Conflict)
	wantCode(t, s.CreateContainer(ctx, &meta.Container{CollectionID: col.ID, Name: "python"}), apperr.Conflict)
	// The same names under another parent are fine.
	_, col2, _ := MkContainer(t, s, alice, "alice", "other", "python")
	if col2.ID == col.ID {
		t.Fatal("collections share an id")
	}
	got, err := s.GetContainerByName(ctx, col.ID, "python")
	must(t, err)
	if got.ID != con.ID || got.Frozen {
		t.Fatalf("container %+v", got)
	}
	got.Frozen = true
	must(t, s.UpdateContainer(ctx, &got))
	if got, _ = s.GetContainer(ctx, con.ID); !got.Frozen {
		t.Fatal("freeze lost")
	}
	col.Private = true
	must(t, s.UpdateCollection(ctx, &col))
	if c, _ := s.GetCollection(ctx, col.ID); !c.Private {
		t.Fatal("private lost")
	}
	cols, err := s.ListCollections(ctx, ent.ID)
	must(t, err)
	if len(cols) != 2 || cols[0].Name != "other" || cols[1].Name != "tools" {
		t.Fatalf("collections %+v", cols)
	}
	must(t, s.DeleteCollection(ctx, col.ID))
	_, err = s.GetContainer(ctx, con.ID)
	wantCode(t, err, apperr.NotFound) // cascades
	wantCode(t, s.DeleteContainer(ctx, con.ID), apperr.NotFound)
}

func testUploads(t *testing.T, s meta.Store) {
	ctx := context.Background()
	past := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	u := meta.Upload{Kind: "oci", Target: "repo", BlobUploadID: "b1", ExpiresAt: past}
	must(t, s.CreateUpload(ctx, &u))
	must(t, s.CreateUpload(ctx, &meta.Upload{Kind: "oci", ExpiresAt: time.Now().Add(time.Hour)}))
	u.State = `{"offset":42}`
	must(t, s.UpdateUpload(ctx, &u))
	got, err := s.GetUpload(ctx, u.ID)
	must(t, err)
	if got.State != `{"offset":42}` || got.BlobUploadID != "b1" || !got.ExpiresAt.Equal(past) {
		t.Fatalf("upload %+v", got)
	}
	// The lease: one holder at a time; a lapsed lease may be taken over;
	// release is a compare-and-swap on the holder.
	now := time.Now().UTC()
	claimed, err := s.ClaimUpload(ctx, u.ID, "req-a", now.Add(time.Minute), now)
	must(t, err)
	if claimed.ID != u.ID || claimed.LeaseHolder != "req-a" || claimed.State != got.State {
		t.Fatalf("claimed %+v", claimed)
	}
	_, err = s.ClaimUpload(ctx, u.ID, "req-a", now.Add(2*time.Minute), now) // extends
	must(t, err)
	_, err = s.ClaimUpload(ctx, u.ID, "req-b", now.Add(time.Minute), now)
	wantCode(t, err, apperr.Unavailable)
	stale := got
	stale.State = `{"offset":77}`
	wantCode(t, s.ReleaseUpload(ctx, &stale, "req-b"), apperr.Conflict)
	next := got
	next.State = `{"offset":99}`
	must(t, s.ReleaseUpload(ctx, &next, "req-a"))
	if cur, _ := s.GetUpload(ctx, u.ID); cur.State != `{"offset":99}` || cur.LeaseHolder != "" {
		t.Fatalf("after release: %+v", cur)
	}
	_, err = s.ClaimUpload(ctx, u.ID, "req-c", now.Add(time.Minute), now)
	must(t, err)
	// req-c crashed; after its lease lapses, req-d takes over and req-c's
	// late release fails.
	_, err = s.ClaimUpload(ctx, u.ID, "req-d", now.Add(3*time.Minute), now.Add(2*time.Minute))
	must(t, err)
	wantCode(t, s.ReleaseUpload(ctx, &stale, "req-c"), apperr.Conflict)
	must(t, s.ReleaseUpload(ctx, &next, "req-d"))
	_, err = s.ClaimUpload(ctx, "nope", "x", now, now)
	wantCode(t, err, apperr.NotFound)
	missing := meta.Upload{ID: "nope", State: "{}"}
	wantCode(t, s.ReleaseUpload(ctx, &missing, "x"), apperr.NotFound)
	exp, err := s.ListExpiredUploads(ctx, time.Now())
	must(t, err)
	if len(exp) != 1 || exp[0].ID != u.ID {
		t.Fatalf("expired %+v", exp)
	}
	must(t, s.DeleteUpload(ctx, u.ID))
	_, err = s.GetUpload(ctx, u.ID)
	wantCode(t, err, apperr.NotFound)
}

func testTx(t *testing.T, s meta.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx meta.Store) error {
		must(t, tx.CreateUser(ctx, &meta.User{Name: "ghost", Role: meta.RoleUser}))
		return tx.InTx(ctx, func(inner meta.Store) error { // nested joins the outer tx
			must(t, inner.CreateUser(ctx, &meta.User{Name: "ghost2", Role: meta.RoleUser}))
			return boom
		})
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx returned %v", err)
	}
	if n, _ := s.CountUsers(ctx); n != 0 {
		t.Fatalf("rollback left %d users", n)
	}
	must(t, s.InTx(ctx, func(tx meta.Store) error {
		return tx.CreateUser(ctx, &meta.User{Name: "kept", Role: meta.RoleUser})
	}))
	// A transaction that says it lost a race is rerun, a bounded number
	// of times, and its first attempt leaves nothing behind.
	runs := 0
	must(t, s.InTx(ctx, func(tx meta.Store) error {
		runs++
		must(t, tx.CreateUser(ctx, &meta.User{Name: fmt.Sprintf("race%d", runs), Role: meta.RoleUser}))
		if runs == 1 {
			return fmt.Errorf("collection appeared: %w", meta.ErrLostRace)
		}
		return nil
	}))
	if _, err := s.GetUserByName(ctx, "race1"); runs != 2 || !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("runs %d, first attempt's row: %v", runs, err)
	}
	runs = 0
	err = s.InTx(ctx, func(tx meta.Store) error { runs++; return meta.ErrLostRace })
	if !errors.Is(err, meta.ErrLostRace) || runs < 2 || runs > 10 {
		t.Fatalf("a transaction that always loses: %v after %d runs", err, runs)
	}
	if _, err := s.GetUserByName(ctx, "kept"); err != nil {
		t.Fatal(err)
	}
	// A read transaction sees one snapshot, refuses writes, and does not
	// wait for a writer (a writer holds its transaction open meanwhile).
	if err := s.ReadTx(ctx, func(tx meta.Store) error {
		return tx.CreateUser(ctx, &meta.User{Name: "readonly", Role: meta.RoleUser})
	}); err == nil {
		t.Error("a read transaction wrote")
	}
	if err := s.ReadTx(ctx, func(tx meta.Store) error {
		return tx.InTx(ctx, func(meta.Store) error { return nil })
	}); err == nil {
		t.Error("a read transaction opened a write transaction")
	}
	inWrite, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.InTx(ctx, func(tx meta.Store) error {
			if err := tx.CreateUser(ctx, &meta.User{Name: "pending", Role: meta.RoleUser}); err != nil {
				return err
			}
			close(inWrite)
			<-release
			return nil
		})
	}()
	<-inWrite
	must(t, s.ReadTx(ctx, func(tx meta.Store) error {
		if _, err := tx.GetUserByName(ctx, "pending"); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("a read saw an uncommitted write: %v", err)
		}
		_, err := tx.GetUserByName(ctx, "kept")
		return err
	}))
	close(release)
	must(t, <-done)
}

// testConcurrent has many goroutines write in transactions at once: SQLite
// must queue them (busy timeout), PostgreSQL run them, and none may fail.
func testConcurrent(t *testing.T, s meta.Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- s.InTx(ctx, func(tx meta.Store) error {
				n, err := tx.CountUsers(ctx)
				if err != nil {
					return err
				}
				_ = n
				return tx.CreateUser(ctx, &meta.User{Name: fmt.Sprintf("u%02d", i), Role: meta.RoleUser})
			})
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	if n, _ := s.CountUsers(ctx); n != 32 {
		t.Fatalf("got %d users, want 32", n)
	}
}

// testGetOrCreate races transactions that each create a row unless it
// exists, as the services do for entities, collections and repositories:
// every one must succeed and see the same row (PostgreSQL reruns the
// losers; SQLite serializes them).
func testGetOrCreate(t *testing.T, s meta.Store) {
	ctx := context.Background()
	ids := make(chan string, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var id string
			err := s.InTx(ctx, func(tx meta.Store) error {
				e, err := tx.GetEntityByName(ctx, "shared")
				if apperr.Is(err, apperr.NotFound) {
					e = meta.Entity{Name: "shared"}
					err = tx.CreateEntity(ctx, &e)
				}
				id = e.ID
				return err
			})
			if err != nil {
				t.Error(err)
			}
			ids <- id
		}()
	}
	wg.Wait()
	close(ids)
	first := ""
	for id := range ids {
		if first == "" {
			first = id
		}
		if id == "" || id != first {
			t.Fatalf("transactions saw different entities: %q and %q", first, id)
		}
	}
}
