package metatest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

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
	t.Run("privacy-changes", func(t *testing.T) { testSearchPrivacyChanges(t, newStore(t)) })
	t.Run("find-containers", func(t *testing.T) { testFindContainers(t, newStore(t)) })
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
		// Only images are found by their path.
		{text: "alice/bio-tools"},
		{text: "bio-tools/blast"},
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
		{"container name", sq("BLAST"), []string{"blast any", "blast arm64", "blast amd64"}},
		{"container description", sq("align"), []string{"blast any", "blast arm64", "blast amd64"}},
		{"collection name", sq("bio-tool"), []string{"blast any", "blast arm64", "blast amd64"}},
		{"not the collection description", sq("genomics"), nil},
		{"entity name", sq("alice"), []string{"vim editor", "blast any", "blast arm64", "blast amd64"}},
		{"image description", sq("EDITOR"), []string{"vim editor"}},
		{"not pending images", sq("pending"), nil},
		// An image is found by its path, entity/collection/container, so
		// a value with a slash in it finds the images under a path.
		{"path", sq("alice/bio-tools/blast"), []string{"blast any", "blast arm64", "blast amd64"}},
		{"path across names", sq("ice/bio-t"), []string{"blast any", "blast arm64", "blast amd64"}},
		{"collection and container", sq("misc/vim"), []string{"vim editor"}},
		{"not a path", sq("alice/blast"), nil},
		// Names and descriptions are apart.
		{"not across a name and a description", sq("blastalign"), nil},
		{"not across with a control character", sq("blast\x01align"), nil},
		{"arch and unknown arch", meta.SearchQuery{Text: "alice", Viewer: admin, Arches: []string{"arm64"}, Limit: 10},
			[]string{"blast any", "blast arm64"}},
		{"arches", meta.SearchQuery{Text: "alice", Viewer: admin, Arches: []string{"arm64", "amd64", "riscv64"}, Limit: 10},
			[]string{"vim editor", "blast any", "blast arm64", "blast amd64"}},
		{"unknown arch only", meta.SearchQuery{Text: "alice", Viewer: admin, Arches: []string{"riscv64"}, Limit: 10},
			[]string{"blast any"}},
		{"signed", meta.SearchQuery{Text: "alice", Viewer: admin, Signed: true, Limit: 10}, []string{"blast any", "blast amd64"}},
		{"signed amd64", meta.SearchQuery{Text: "blast", Viewer: admin, Signed: true, Arches: []string{"amd64"}, Limit: 10},
			[]string{"blast any", "blast amd64"}},
		{"short text", sq("im"), []string{"vim editor"}},
		{"short text and arch", meta.SearchQuery{Text: "im", Viewer: admin, Arches: []string{"arm64"}, Limit: 10}, nil},
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

	// An image is found once uploaded; its filters follow its updates.
	_, _, con = MkContainer(t, s, alice, "alice", "kit", "pusher")
	img := meta.Image{ContainerID: con.ID, Digest: digestB, Arch: "amd64"}
	must(t, s.CreateImage(ctx, &img))
	for _, step := range []struct {
		name   string
		update func()
		q      meta.SearchQuery
		want   int
	}{
		{"pending", func() {}, sq("pusher"), 0},
		{"uploaded", func() { img.Uploaded = true }, sq("pusher"), 1},
		{"other arch", func() {}, meta.SearchQuery{Text: "pusher", Viewer: admin, Arches: []string{"arm64"}}, 0},
		{"new arch", func() { img.Arch = "arm64" }, meta.SearchQuery{Text: "pusher", Viewer: admin, Arches: []string{"arm64"}}, 1},
		{"unsigned", func() {}, meta.SearchQuery{Text: "pusher", Viewer: admin, Signed: true}, 0},
		{"signed by a key not held", func() { img.Metadata = `{"signed":true}` }, meta.SearchQuery{Text: "pusher", Viewer: admin, Signed: true}, 0},
		{"verified (a key arrived)", func() { img.Metadata = `{"signed":true,"verified":true}` },
			meta.SearchQuery{Text: "pusher", Viewer: admin, Signed: true}, 1},
		{"key removed", func() { img.Metadata = `{"signed":true}` }, meta.SearchQuery{Text: "pusher", Viewer: admin, Signed: true}, 0},
		{"described", func() { img.Description = "described" }, sq("described"), 1},
	} {
		step.update()
		must(t, s.UpdateImage(ctx, &img))
		imgs, err := s.SearchImages(ctx, step.q)
		must(t, err)
		if len(imgs) != step.want {
			t.Errorf("%s: %d images, want %d", step.name, len(imgs), step.want)
		}
	}
}

// testSearchPages: each kind comes newest first (in the order rows were
// created in the store, latest first, whatever their names), and Limit
// and Offset page through it without gaps or repeats.
func testSearchPages(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice, bob := MkUser(t, s, "alice"), MkUser(t, s, "bob")
	for _, u := range []meta.User{bob, alice} {
		must(t, s.CreateEntity(ctx, &meta.Entity{Name: u.Name, OwnerID: u.ID, Description: "a team"}))
	}
	// Created in this order; names out of order.
	for _, p := range [][3]string{{"bob", "kit-z", "tool-b"}, {"alice", "kit-m", "tool-c"}, {"bob", "kit-a", "tool-a"},
		{"alice", "kit-m", "tool-a"}, {"alice", "kit-b", "tool-z"}} {
		owner := alice
		if p[0] == "bob" {
			owner = bob
		}
		_, _, con := MkContainer(t, s, owner, p[0], p[1], p[2])
		// Two images each, b then a; the order is the store's, not
		// CreatedAt's (which a caller may set).
		at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		for n, d := range []string{digestB, digestA} {
			img := meta.Image{ContainerID: con.ID, Digest: d, Uploaded: true, Description: p[2] + "@" + d[7:8],
				CreatedAt: at.Add(-time.Duration(n) * time.Hour)}
			must(t, s.CreateImage(ctx, &img))
		}
	}
	want := []string{"alice/kit-b/tool-z", "alice/kit-m/tool-a", "bob/kit-a/tool-a", "alice/kit-m/tool-c", "bob/kit-z/tool-b"}
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
	wantImages := []string{"tool-z@a", "tool-z@b", "tool-a@a", "tool-a@b", "tool-a@a", "tool-a@b", "tool-c@a", "tool-c@b",
		"tool-b@a", "tool-b@b"}
	wantNames(t, "images", imageDescriptions(imgs), wantImages...)
	if imgs[2].Entity.Name != "alice" || imgs[4].Entity.Name != "bob" {
		t.Errorf("images' paths: %+v", imgs)
	}
	paged = nil
	for off := 0; off < 12; off += 3 {
		q := sq("tool")
		q.Limit, q.Offset = 3, off
		page, err := s.SearchImages(ctx, q)
		must(t, err)
		paged = append(paged, imageDescriptions(page)...)
	}
	wantNames(t, "paged images", paged, wantImages...)
	cols, err := s.SearchCollections(ctx, sq("kit"))
	must(t, err)
	wantNames(t, "collections", collectionNames(cols), "alice/kit-b", "bob/kit-a", "alice/kit-m", "bob/kit-z")
	ents, err := s.SearchEntities(ctx, meta.SearchQuery{Text: "team", Viewer: admin, Limit: 1, Offset: 1})
	must(t, err)
	if len(ents) != 1 || ents[0].Name != "bob" {
		t.Errorf("entities, second page of one: %+v", ents)
	}
	// A rename keeps a row's place.
	cons[4].Container.Name = "tool-renamed"
	must(t, s.UpdateContainer(ctx, &cons[4].Container))
	cons, err = s.SearchContainers(ctx, sq("tool"))
	must(t, err)
	wantNames(t, "after a rename", containerNames(cons), append(want[:4:4], "bob/kit-z/tool-renamed")...)
}
