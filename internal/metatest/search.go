package metatest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/access"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
)

// testSearch checks meta.LibrarySearch: what is matched, filters,
// order, pages, and privacy decided by the store.
func testSearch(t *testing.T, newStore NewStore) {
	t.Run("matching", func(t *testing.T) { testSearchMatching(t, newStore(t)) })
	t.Run("images", func(t *testing.T) { testSearchImages(t, newStore(t)) })
	t.Run("writes", func(t *testing.T) { testSearchWrites(t, newStore(t)) })
	t.Run("order-and-pages", func(t *testing.T) { testSearchPages(t, newStore(t)) })
	t.Run("privacy", func(t *testing.T) { testSearchPrivacy(t, newStore(t)) })
	t.Run("privacy-many-hidden", func(t *testing.T) { testSearchManyHidden(t, newStore(t)) })
}

// admin sees everything, so the matching tests are about text alone.
var admin = meta.Viewer{UserID: "root", Admin: true}

func sq(text string) meta.SearchQuery { return meta.SearchQuery{Text: text, Viewer: admin, Limit: 100} }

func collectionNames(hits []meta.CollectionHit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.Entity.Name+"/"+h.Collection.Name)
	}
	return out
}

func containerNames(hits []meta.ContainerHit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.Entity.Name+"/"+h.Collection.Name+"/"+h.Container.Name)
	}
	return out
}

func imageDescriptions(hits []meta.ImageHit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.Image.Description)
	}
	return out
}

func wantNames(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

func testSearchMatching(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice := MkUser(t, s, "alice")
	ent := meta.Entity{Name: "alice", OwnerID: alice.ID, Description: "Alice's Lab"}
	must(t, s.CreateEntity(ctx, &ent))
	_, col, _ := MkContainer(t, s, alice, "alice", "bio-tools", "blast")
	col.Description = `Sequence ANALYSIS 100% "quoted" a_b`
	must(t, s.UpdateCollection(ctx, &col))
	_, _, con := MkContainer(t, s, alice, "alice", "misc", "editor")
	con.Description = "Vi IMproved, Größe"
	must(t, s.UpdateContainer(ctx, &con))

	for _, tc := range []struct {
		text                       string
		entities, cols, containers []string
	}{
		{text: "ALI", entities: []string{"alice"}},
		{text: "'s lab", entities: []string{"alice"}},
		{text: "analysis", cols: []string{"alice/bio-tools"}},
		{text: "Bio-T", cols: []string{"alice/bio-tools"}},
		{text: "las", containers: []string{"alice/bio-tools/blast"}},
		{text: "improved", containers: []string{"alice/misc/editor"}},
		{text: "Größe", containers: []string{"alice/misc/editor"}},
		// LIKE's wildcards are literal.
		{text: "100%", cols: []string{"alice/bio-tools"}},
		{text: "1_0%"},
		{text: "a_b", cols: []string{"alice/bio-tools"}},
		{text: "s%e"},
		{text: `"quoted"`, cols: []string{"alice/bio-tools"}},
		{text: `\`},
		// Shorter than a trigram: still a substring match.
		{text: "ED", cols: []string{"alice/bio-tools"}, containers: []string{"alice/misc/editor"}},
		{text: "%", cols: []string{"alice/bio-tools"}},
		{text: "_b", cols: []string{"alice/bio-tools"}},
		{text: "nothing-like-this"},
	} {
		t.Run(tc.text, func(t *testing.T) {
			ents, err := s.SearchEntities(ctx, sq(tc.text))
			must(t, err)
			var names []string
			for _, e := range ents {
				names = append(names, e.Name)
			}
			wantNames(t, "entities", names, tc.entities...)
			cols, err := s.SearchCollections(ctx, sq(tc.text))
			must(t, err)
			wantNames(t, "collections", collectionNames(cols), tc.cols...)
			cons, err := s.SearchContainers(ctx, sq(tc.text))
			must(t, err)
			wantNames(t, "containers", containerNames(cons), tc.containers...)
		})
	}
	cols, err := s.SearchCollections(ctx, sq("analysis"))
	must(t, err)
	if len(cols) != 1 || cols[0].Collection.ID != col.ID || cols[0].Entity.ID != ent.ID || cols[0].Collection.Description != col.Description {
		t.Errorf("collection hit %+v", cols)
	}
}

// testSearchImages: images are found by their container's name and
// description, their collection's and entity's names and their own
// description; the arch and signed filters; uploaded images only; tags.
func testSearchImages(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice := MkUser(t, s, "alice")
	_, col, blast := MkContainer(t, s, alice, "alice", "bio-tools", "blast")
	col.Description = "genomics"
	must(t, s.UpdateCollection(ctx, &col))
	blast.Description = "aligner"
	must(t, s.UpdateContainer(ctx, &blast))
	_, _, vim := MkContainer(t, s, alice, "alice", "misc", "vim")
	n, at := 0, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	img := func(con meta.Container, desc, arch, metadata string, uploaded bool) meta.Image {
		n++
		i := meta.Image{ContainerID: con.ID, Digest: fmt.Sprintf("sha256:%064d", n), CreatedAt: at.Add(time.Duration(n) * time.Second),
			Description: desc, Arch: arch, Metadata: metadata, Uploaded: uploaded}
		must(t, s.CreateImage(ctx, &i))
		return i
	}
	// The signed filter keeps images whose signatures verify: "blast
	// arm64" is signed by a key the server does not hold.
	amd := img(blast, "blast amd64", "amd64", `{"sif":true,"signed":true,"verified":true,"fingerprints":["AB"]}`, true)
	img(blast, "blast arm64", "arm64", `{"sif":true,"signed":true,"fingerprints":["CD"]}`, true)
	img(blast, "blast any", "", `{"sif":true,"signed":true,"verified":true}`, true)
	img(vim, "vim editor", "amd64", "", true)
	img(vim, "vim pending", "arm64", "", false)
	must(t, s.SetLibraryTag(ctx, &meta.LibraryTag{ContainerID: blast.ID, Arch: "amd64", Tag: "v1", ImageID: amd.ID}))
	must(t, s.SetLibraryTag(ctx, &meta.LibraryTag{ContainerID: blast.ID, Arch: "amd64", Tag: "latest", ImageID: amd.ID}))

	for _, tc := range []struct {
		name   string
		q      meta.SearchQuery
		images []string
	}{
		{"container name", sq("BLAST"), []string{"blast amd64", "blast arm64", "blast any"}},
		{"container description", sq("align"), []string{"blast amd64", "blast arm64", "blast any"}},
		{"collection name", sq("bio-tool"), []string{"blast amd64", "blast arm64", "blast any"}},
		{"not the collection description", sq("genomics"), nil},
		{"entity name", sq("alice"), []string{"blast amd64", "blast arm64", "blast any", "vim editor"}},
		{"image description", sq("EDITOR"), []string{"vim editor"}},
		{"not pending images", sq("pending"), nil},
		{"arch and unknown arch", meta.SearchQuery{Text: "alice", Viewer: admin, Arches: []string{"arm64"}, Limit: 10},
			[]string{"blast arm64", "blast any"}},
		{"arches", meta.SearchQuery{Text: "alice", Viewer: admin, Arches: []string{"arm64", "amd64", "riscv64"}, Limit: 10},
			[]string{"blast amd64", "blast arm64", "blast any", "vim editor"}},
		{"signed", meta.SearchQuery{Text: "alice", Viewer: admin, Signed: true, Limit: 10}, []string{"blast amd64", "blast any"}},
		{"signed amd64", meta.SearchQuery{Text: "blast", Viewer: admin, Signed: true, Arches: []string{"amd64"}, Limit: 10},
			[]string{"blast amd64", "blast any"}},
		{"short text", sq("im"), []string{"vim editor"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hits, err := s.SearchImages(ctx, tc.q)
			must(t, err)
			wantNames(t, "images", imageDescriptions(hits), tc.images...)
		})
	}
	hits, err := s.SearchImages(ctx, sq("blast amd64"))
	must(t, err)
	if len(hits) != 1 || hits[0].Image.ID != amd.ID || hits[0].Container.ID != blast.ID || hits[0].Collection.ID != col.ID ||
		hits[0].Entity.Name != "alice" || !slices.Equal(hits[0].Tags, []string{"latest", "v1"}) {
		t.Errorf("image hit %+v", hits)
	}
}

// testSearchWrites: renames, new descriptions and deletes (also by
// cascade) show in the next search.
func testSearchWrites(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice := MkUser(t, s, "alice")
	_, col, con := MkContainer(t, s, alice, "alice", "tools", "oldname")
	mkImage(t, s, con, digestA, "amd64", 1)
	con.Name, con.Description = "newname", "shiny"
	must(t, s.UpdateContainer(ctx, &con))
	cons, err := s.SearchContainers(ctx, sq("oldname"))
	must(t, err)
	wantNames(t, "old name", containerNames(cons))
	cons, _ = s.SearchContainers(ctx, sq("newname"))
	wantNames(t, "new name", containerNames(cons), "alice/tools/newname")
	cons, _ = s.SearchContainers(ctx, sq("shiny"))
	wantNames(t, "new description", containerNames(cons), "alice/tools/newname")
	col.Name = "kit"
	must(t, s.UpdateCollection(ctx, &col))
	imgs, err := s.SearchImages(ctx, sq("kit"))
	must(t, err)
	if len(imgs) != 1 {
		t.Errorf("image by renamed collection: %+v", imgs)
	}
	must(t, s.DeleteCollection(ctx, col.ID))
	for _, text := range []string{"kit", "newname", "shiny"} {
		cols, _ := s.SearchCollections(ctx, sq(text))
		cons, _ := s.SearchContainers(ctx, sq(text))
		imgs, _ := s.SearchImages(ctx, sq(text))
		if len(cols)+len(cons)+len(imgs) != 0 {
			t.Errorf("%q after delete: %v %v %v", text, cols, cons, imgs)
		}
	}
	// A new row reusing a deleted one's name is found once.
	MkContainer(t, s, alice, "alice", "kit", "newname")
	cons, _ = s.SearchContainers(ctx, sq("newname"))
	wantNames(t, "recreated", containerNames(cons), "alice/kit/newname")
}

// testSearchPages: each kind comes in a fixed order, and Limit and
// Offset page through it without gaps or repeats.
func testSearchPages(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice, bob := MkUser(t, s, "alice"), MkUser(t, s, "bob")
	for _, u := range []meta.User{bob, alice} {
		must(t, s.CreateEntity(ctx, &meta.Entity{Name: u.Name, OwnerID: u.ID, Description: "a team"}))
	}
	// Created out of order; names sort entity, collection, container.
	for _, p := range [][3]string{{"bob", "kit-z", "tool-b"}, {"alice", "kit-m", "tool-c"}, {"bob", "kit-a", "tool-a"},
		{"alice", "kit-m", "tool-a"}, {"alice", "kit-b", "tool-z"}} {
		owner := alice
		if p[0] == "bob" {
			owner = bob
		}
		_, _, con := MkContainer(t, s, owner, p[0], p[1], p[2])
		// Two images each, the later created first.
		at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		for n, d := range []string{digestB, digestA} {
			img := meta.Image{ContainerID: con.ID, Digest: d, Uploaded: true, Description: p[2] + "@" + d[7:8],
				CreatedAt: at.Add(-time.Duration(n) * time.Hour)}
			must(t, s.CreateImage(ctx, &img))
		}
	}
	want := []string{"alice/kit-b/tool-z", "alice/kit-m/tool-a", "alice/kit-m/tool-c", "bob/kit-a/tool-a", "bob/kit-z/tool-b"}
	cons, err := s.SearchContainers(ctx, sq("tool"))
	must(t, err)
	wantNames(t, "containers", containerNames(cons), want...)
	var paged []string
	for off := 0; off < 7; off += 2 {
		q := sq("tool")
		q.Limit, q.Offset = 2, off
		page, err := s.SearchContainers(ctx, q)
		must(t, err)
		if len(page) > 2 {
			t.Fatalf("page of %d", len(page))
		}
		paged = append(paged, containerNames(page)...)
	}
	wantNames(t, "paged containers", paged, want...)
	imgs, err := s.SearchImages(ctx, sq("tool"))
	must(t, err)
	wantNames(t, "images", imageDescriptions(imgs), "tool-z@a", "tool-z@b", "tool-a@a", "tool-a@b", "tool-c@a", "tool-c@b",
		"tool-a@a", "tool-a@b", "tool-b@a", "tool-b@b")
	q := sq("tool")
	q.Limit, q.Offset = 3, 8
	imgs, err = s.SearchImages(ctx, q)
	must(t, err)
	wantNames(t, "last page of images", imageDescriptions(imgs), "tool-b@a", "tool-b@b")
	cols, err := s.SearchCollections(ctx, sq("kit"))
	must(t, err)
	wantNames(t, "collections", collectionNames(cols), "alice/kit-b", "alice/kit-m", "bob/kit-a", "bob/kit-z")
	ents, err := s.SearchEntities(ctx, meta.SearchQuery{Text: "team", Viewer: admin, Limit: 1, Offset: 1})
	must(t, err)
	if len(ents) != 1 || ents[0].Name != "bob" {
		t.Errorf("entities, second page of one: %+v", ents)
	}
}

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
			want := readable(t, s, who.p, cols)
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
// of them however many hits it may not see come first.
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
	// mallory's sort first ("aaron" < "zed").
	private(mallory, "aaron", "vault", 1500)
	private(alice, "zed", "shared", 5)
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
			if tc.want == 5 && (cons[0].Entity.Name != "zed" || imgs[4].Container.Name != "needle-0004") {
				t.Errorf("hits %v", containerNames(cons))
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
