package metatest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/silo-hpc/silo/internal/access"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
)

// The search's privacy: callers of every kind against access.Checker, many
// hidden hits before the visible ones, and privacy that changes.

// privacyCase is a caller of the privacy tests.
type privacyCase struct {
	name string
	p    auth.Principal
}

// privacyFixture makes a collection (alice/<name>, holding container
// widget-<name> with one uploaded image) for each privacy case: public or
// private, granted to carol's team or not, and a private one nobody owns
// (anonymous callers have no user id either: they must not count as its
// owner). It returns them with the callers to try.
func privacyFixture(t *testing.T, s meta.Store) ([]meta.Collection, []meta.Image, []privacyCase) {
	ctx := context.Background()
	alice, bob, carol := MkUser(t, s, "alice"), MkUser(t, s, "bob"), MkUser(t, s, "carol")
	root := meta.User{Name: "root", Role: meta.RoleAdmin, PasswordHash: "x"}
	must(t, s.CreateUser(ctx, &root))
	team := meta.Team{Name: "lab"}
	must(t, s.CreateTeam(ctx, &team))
	must(t, s.AddTeamMember(ctx, team.ID, carol.ID))
	var cols []meta.Collection
	var imgs []meta.Image
	for _, c := range []struct {
		name             string
		owner            meta.User
		private, granted bool
	}{
		{"open", alice, false, false}, {"open-granted", alice, false, true},
		{"closed", alice, true, false}, {"closed-granted", alice, true, true},
		{"ownerless", meta.User{}, true, false}, {"bobs", bob, true, false},
	} {
		_, col, con := MkContainer(t, s, alice, "alice", c.name, "widget-"+c.name)
		col.Private, col.OwnerID, col.Description = c.private, c.owner.ID, "widget box"
		must(t, s.UpdateCollection(ctx, &col))
		if c.granted {
			must(t, s.GrantCollection(ctx, col.ID, team.ID))
		}
		imgs = append(imgs, mkImage(t, s, con, digestA, "amd64", 1))
		cols = append(cols, col)
	}
	return cols, imgs, []privacyCase{
		{"anonymous", auth.Principal{}},
		{"owner", auth.Principal{UserID: alice.ID, Name: "alice", Role: meta.RoleUser}},
		{"other", auth.Principal{UserID: bob.ID, Name: "bob", Role: meta.RoleUser}},
		{"team member", auth.Principal{UserID: carol.ID, Name: "carol", Role: meta.RoleUser}},
		{"manager", auth.Principal{UserID: carol.ID, Name: "carol", Role: meta.RoleManager}},
		{"admin", auth.Principal{UserID: root.ID, Name: "root", Role: meta.RoleAdmin}},
	}
}

// readable is the names (alice/<collection>) of cols p may read, by the
// access rules every protocol applies, sorted.
func readable(t *testing.T, s meta.Store, p auth.Principal, cols []meta.Collection) []string {
	var want []string
	for _, col := range cols {
		ok, err := access.Checker{}.CanReadCollection(context.Background(), s, p, col)
		must(t, err)
		if ok {
			want = append(want, "alice/"+col.Name)
		}
	}
	slices.Sort(want)
	return want
}

// testSearchPrivacy checks the store's privacy condition against
// access.Checker.CanReadCollection, the rule it must agree with, for
// public and private collections and every kind of caller.
func testSearchPrivacy(t *testing.T, s meta.Store) {
	ctx := context.Background()
	cols, _, whos := privacyFixture(t, s)
	for _, who := range whos {
		t.Run(who.name, func(t *testing.T) {
			// Newest first: the reverse of the order they were made in.
			var want []string
			for _, col := range slices.Backward(cols) {
				if slices.Contains(readable(t, s, who.p, cols), "alice/"+col.Name) {
					want = append(want, "alice/"+col.Name)
				}
			}
			// As the library service asks.
			q := meta.SearchQuery{Text: "widget", Viewer: meta.Viewer{UserID: who.p.UserID, Admin: who.p.IsAdmin()}, Limit: 100}
			hits, err := s.SearchCollections(ctx, q)
			must(t, err)
			cons, err := s.SearchContainers(ctx, q)
			must(t, err)
			imgs, err := s.SearchImages(ctx, q)
			must(t, err)
			var gotCols, gotCons, gotImgs []string
			for _, h := range hits {
				gotCols = append(gotCols, h.Entity.Name+"/"+h.Collection.Name)
			}
			for _, h := range cons {
				gotCons = append(gotCons, h.Entity.Name+"/"+h.Collection.Name)
			}
			for _, h := range imgs {
				gotImgs = append(gotImgs, h.Entity.Name+"/"+h.Collection.Name)
			}
			wantNames(t, "collections", gotCols, want...)
			wantNames(t, "containers' collections", gotCons, want...)
			wantNames(t, "images' collections", gotImgs, want...)
		})
	}
}

// testSearchManyHidden: a caller who may see some private hits gets all
// of them however many hits it may not see come first (newer).
func testSearchManyHidden(t *testing.T, s meta.Store) {
	ctx := context.Background()
	mallory, alice, carol := MkUser(t, s, "mallory"), MkUser(t, s, "alice"), MkUser(t, s, "carol")
	team := meta.Team{Name: "lab"}
	must(t, s.CreateTeam(ctx, &team))
	must(t, s.AddTeamMember(ctx, team.ID, carol.ID))
	private := func(owner meta.User, entity, collection string, n int) {
		must(t, s.InTx(ctx, func(tx meta.Store) error {
			ent := meta.Entity{Name: entity, OwnerID: owner.ID}
			must(t, tx.CreateEntity(ctx, &ent))
			col := meta.Collection{EntityID: ent.ID, Name: collection, OwnerID: owner.ID, Private: true}
			must(t, tx.CreateCollection(ctx, &col))
			for i := range n {
				con := meta.Container{CollectionID: col.ID, Name: fmt.Sprintf("needle-%04d", i)}
				must(t, tx.CreateContainer(ctx, &con))
				must(t, tx.CreateImage(ctx, &meta.Image{ContainerID: con.ID, Digest: digestA, Uploaded: true}))
			}
			if owner.ID == alice.ID {
				must(t, tx.GrantCollection(ctx, col.ID, team.ID))
			}
			return nil
		}))
	}
	// mallory's are newer, so they come first.
	private(alice, "zed", "shared", 5)
	private(mallory, "aaron", "vault", 1500)
	const limit = 200
	for _, tc := range []struct {
		name string
		v    meta.Viewer
		want int
	}{
		{"team member", meta.Viewer{UserID: carol.ID}, 5},
		{"owner", meta.Viewer{UserID: alice.ID}, 5},
		{"anonymous", meta.Viewer{}, 0},
		{"admin", admin, limit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := meta.SearchQuery{Text: "needle", Viewer: tc.v, Limit: limit}
			cons, err := s.SearchContainers(ctx, q)
			must(t, err)
			imgs, err := s.SearchImages(ctx, q)
			must(t, err)
			if len(cons) != tc.want || len(imgs) != tc.want {
				t.Fatalf("%d containers and %d images, want %d", len(cons), len(imgs), tc.want)
			}
			if tc.want == 5 && (cons[0].Container.Name != "needle-0004" || imgs[4].Container.Name != "needle-0000") {
				t.Errorf("hits %v", containerNames(cons))
			}
			if tc.want == limit && (cons[0].Entity.Name != "aaron" || cons[0].Container.Name != "needle-1499") {
				t.Errorf("first hit %v", containerNames(cons[:1]))
			}
		})
	}
	// Pages reach every hit once.
	seen := map[string]bool{}
	for off := 0; ; off += limit {
		page, err := s.SearchContainers(ctx, meta.SearchQuery{Text: "needle", Viewer: admin, Limit: limit, Offset: off})
		must(t, err)
		if len(page) == 0 {
			break
		}
		for _, h := range page {
			seen[h.Container.ID] = true
		}
	}
	if len(seen) != 1505 {
		t.Errorf("paging saw %d containers, want 1505", len(seen))
	}
}

// testSearchPrivacyChanges: who finds a collection, its containers and
// images follows the collection's privacy, its owner, its team grants and
// team members as they change, for rows written before and after.
func testSearchPrivacyChanges(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice, bob, carol := MkUser(t, s, "alice"), MkUser(t, s, "bob"), MkUser(t, s, "carol")
	team := meta.Team{Name: "lab"}
	must(t, s.CreateTeam(ctx, &team))
	must(t, s.AddTeamMember(ctx, team.ID, carol.ID))
	_, col, con := MkContainer(t, s, alice, "alice", "box", "widget-1")
	mkImage(t, s, con, digestA, "amd64", 1)
	viewers := []struct {
		name string
		v    meta.Viewer
	}{{"alice", meta.Viewer{UserID: alice.ID}}, {"anonymous", meta.Viewer{}}, {"bob", meta.Viewer{UserID: bob.ID}},
		{"carol", meta.Viewer{UserID: carol.ID}}, {"root", admin}}
	// check: who finds the collection, each of its n containers and
	// their images.
	check := func(step string, n int, who ...string) {
		t.Helper()
		var got []string
		for _, v := range viewers {
			q := meta.SearchQuery{Text: "widget", Viewer: v.v, Arches: []string{"amd64"}, Limit: 10}
			cols, err := s.SearchCollections(ctx, q)
			must(t, err)
			cons, err := s.SearchContainers(ctx, q)
			must(t, err)
			imgs, err := s.SearchImages(ctx, q)
			must(t, err)
			switch {
			case len(cols) == 1 && len(cons) == n && len(imgs) == n:
				got = append(got, v.name)
			case len(cols)+len(cons)+len(imgs) > 0:
				t.Errorf("%s: %s finds %d collections, %d containers, %d images", step, v.name, len(cols), len(cons), len(imgs))
			}
		}
		wantNames(t, step, got, append(who, "root")...)
	}
	col.Description = "widget box"
	must(t, s.UpdateCollection(ctx, &col))
	check("public", 1, "alice", "anonymous", "bob", "carol")
	col.Private = true
	must(t, s.UpdateCollection(ctx, &col))
	check("private", 1, "alice")
	must(t, s.GrantCollection(ctx, col.ID, team.ID))
	check("granted", 1, "alice", "carol")
	_, _, con2 := MkContainer(t, s, alice, "alice", "box", "widget-2")
	mkImage(t, s, con2, digestA, "amd64", 1)
	check("a new container", 2, "alice", "carol")
	must(t, s.AddTeamMember(ctx, team.ID, bob.ID))
	check("bob joins", 2, "alice", "bob", "carol")
	must(t, s.RemoveTeamMember(ctx, team.ID, carol.ID))
	check("carol leaves", 2, "alice", "bob")
	col.OwnerID = carol.ID
	must(t, s.UpdateCollection(ctx, &col))
	check("carol owns", 2, "bob", "carol")
	must(t, s.RevokeCollection(ctx, col.ID, team.ID))
	check("revoked", 2, "carol")
	col.Private = false
	must(t, s.UpdateCollection(ctx, &col))
	check("public again", 2, "alice", "anonymous", "bob", "carol")
	must(t, s.GrantCollection(ctx, col.ID, team.ID))
	col.Private = true
	must(t, s.UpdateCollection(ctx, &col))
	check("granted while public", 2, "bob", "carol")
}
