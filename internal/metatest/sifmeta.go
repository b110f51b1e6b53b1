package metatest

import (
	"context"
	"slices"
	"testing"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

// testSIFMetadata checks meta.SIFMetadata: inspections per digest, the
// backfill's worklist, and label listings with privacy decided by the
// store.
func testSIFMetadata(t *testing.T, newStore NewStore) {
	t.Run("inspections", func(t *testing.T) { testInspections(t, newStore(t)) })
	t.Run("label-listing", func(t *testing.T) { testLabelListing(t, newStore(t)) })
	t.Run("label-privacy", func(t *testing.T) { testLabelPrivacy(t, newStore(t)) })
	t.Run("search-by-label", func(t *testing.T) { testSearchByLabel(t, newStore(t)) })
}

const digestC = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

func testInspections(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice := MkUser(t, s, "alice")
	_, _, con := MkContainer(t, s, alice, "alice", "tools", "app")
	_, _, other := MkContainer(t, s, alice, "alice", "tools", "copy")
	mkImage(t, s, con, digestA, "amd64", 1)
	mkImage(t, s, other, digestA, "amd64", 1) // same content twice: one digest to do
	pending := meta.Image{ContainerID: con.ID, Digest: digestB, Arch: "amd64", Size: 1}
	must(t, s.CreateImage(ctx, &pending)) // not uploaded: nothing to inspect

	_, err := s.GetInspection(ctx, digestA)
	wantCode(t, err, apperr.NotFound)
	todo := func(version int) []string {
		t.Helper()
		got, err := s.ListUninspected(ctx, version, "", 10)
		must(t, err)
		return got
	}
	if got := todo(1); !slices.Equal(got, []string{digestA}) {
		t.Fatalf("uninspected %v", got)
	}
	// A cursor at or past a digest skips it (the backfill moves on past
	// digests it could not inspect).
	if got, err := s.ListUninspected(ctx, 1, digestA, 10); err != nil || len(got) != 0 {
		t.Fatalf("after %s: %v, %v", digestA, got, err)
	}
	if got, err := s.ListUninspected(ctx, 1, digestA[:len(digestA)-1], 10); err != nil || !slices.Equal(got, []string{digestA}) {
		t.Fatalf("before %s: %v, %v", digestA, got, err)
	}
	must(t, s.PutInspection(ctx, &meta.Inspection{Digest: digestA, Version: 1, JSON: `{"v":1}`}))
	if got := todo(1); len(got) != 0 {
		t.Fatalf("inspected digest still listed: %v", got)
	}
	if got := todo(2); !slices.Equal(got, []string{digestA}) {
		t.Fatalf("an older inspector's work is not listed: %v", got)
	}
	must(t, s.PutInspection(ctx, &meta.Inspection{Digest: digestA, Version: 2, JSON: `{"v":2}`}))
	in, err := s.GetInspection(ctx, digestA)
	must(t, err)
	if in.Version != 2 || in.JSON != `{"v":2}` || in.CreatedAt.IsZero() {
		t.Fatalf("inspection %+v", in)
	}
	if got := todo(2); len(got) != 0 {
		t.Fatalf("after redo %v", got)
	}
}

func labelNames(rows []meta.LabelRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Key+"="+r.Value+"@"+r.Container.Entity.Name+"/"+r.Container.Collection.Name+"/"+r.Container.Container.Name)
	}
	return out
}

func testLabelListing(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice := MkUser(t, s, "alice")
	_, _, app := MkContainer(t, s, alice, "alice", "tools", "app")
	_, _, lib := MkContainer(t, s, alice, "alice", "tools", "lib")
	// Two images of app carry the same label: listed once.
	for _, d := range []string{digestA, digestC} {
		img := mkImage(t, s, app, d, "amd64", 1)
		must(t, s.SetLabels(ctx, img.ID, map[string]string{"Maintainer": "alice", "Version": "1.0"}))
	}
	img := mkImage(t, s, lib, digestB, "amd64", 1)
	must(t, s.SetLabels(ctx, img.ID, map[string]string{"Maintainer": "bob", "Version": "1.0"}))
	pending := meta.Image{ContainerID: lib.ID, Digest: digestC, Arch: "arm64"}
	must(t, s.CreateImage(ctx, &pending))
	must(t, s.SetLabels(ctx, pending.ID, map[string]string{"Hidden": "not uploaded"}))

	list := func(q meta.LabelQuery) []string {
		t.Helper()
		q.Viewer = admin
		rows, err := s.ListLabels(ctx, q)
		must(t, err)
		return labelNames(rows)
	}
	wantNames(t, "all", list(meta.LabelQuery{}),
		"Maintainer=alice@alice/tools/app", "Maintainer=bob@alice/tools/lib",
		"Version=1.0@alice/tools/app", "Version=1.0@alice/tools/lib")
	wantNames(t, "key", list(meta.LabelQuery{Key: "Maintainer"}),
		"Maintainer=alice@alice/tools/app", "Maintainer=bob@alice/tools/lib")
	wantNames(t, "value", list(meta.LabelQuery{Value: "1.0"}),
		"Version=1.0@alice/tools/app", "Version=1.0@alice/tools/lib")
	wantNames(t, "key and value", list(meta.LabelQuery{Key: "Maintainer", Value: "bob"}), "Maintainer=bob@alice/tools/lib")
	wantNames(t, "exact, not a pattern", list(meta.LabelQuery{Key: "Maint%"}))
	wantNames(t, "case matters", list(meta.LabelQuery{Key: "maintainer"}))
	wantNames(t, "folded key", list(meta.LabelQuery{Key: "mAINTAINER", Fold: true}),
		"Maintainer=alice@alice/tools/app", "Maintainer=bob@alice/tools/lib")
	wantNames(t, "folded key and value", list(meta.LabelQuery{Key: "maintainer", Value: "BOB", Fold: true}),
		"Maintainer=bob@alice/tools/lib")
	wantNames(t, "folded, still exact", list(meta.LabelQuery{Key: "maint%", Fold: true}))
	wantNames(t, "page", list(meta.LabelQuery{Limit: 2, Offset: 1}),
		"Maintainer=bob@alice/tools/lib", "Version=1.0@alice/tools/app")
}

// testLabelPrivacy checks the listing against access.Checker, as the
// search is.
func testLabelPrivacy(t *testing.T, s meta.Store) {
	ctx := context.Background()
	cols, imgs, whos := privacyFixture(t, s)
	for _, img := range imgs {
		must(t, s.SetLabels(ctx, img.ID, map[string]string{"kind": "widget"}))
	}
	for _, who := range whos {
		t.Run(who.name, func(t *testing.T) {
			want := readable(t, s, who.p, cols)
			rows, err := s.ListLabels(ctx, meta.LabelQuery{Key: "kind", Viewer: meta.Viewer{UserID: who.p.UserID, Admin: who.p.IsAdmin()}})
			must(t, err)
			var got []string
			for _, r := range rows {
				got = append(got, r.Container.Entity.Name+"/"+r.Container.Collection.Name)
			}
			wantNames(t, "labelled collections", got, want...)
		})
	}
}

// testSearchByLabel checks SearchImages's label filter, with and without
// text, and its privacy.
func testSearchByLabel(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice := MkUser(t, s, "alice")
	_, _, blast := MkContainer(t, s, alice, "alice", "bio", "blast")
	_, _, bwa := MkContainer(t, s, alice, "alice", "bio", "bwa")
	_, hidden, secret := MkContainer(t, s, alice, "alice", "hidden", "blast-dev")
	hidden.Private = true
	must(t, s.UpdateCollection(ctx, &hidden))
	for _, c := range []struct {
		con    meta.Container
		digest string
		labels map[string]string
	}{
		{blast, digestA, map[string]string{"org.example.suite": "bio", "Version": "2.14"}},
		{blast, digestB, map[string]string{"org.example.suite": "bio", "Version": "2.15"}},
		{bwa, digestA, map[string]string{"org.example.suite": "bio", "Version": "0.7"}},
		{secret, digestA, map[string]string{"org.example.suite": "bio"}},
	} {
		img := mkImage(t, s, c.con, c.digest, "amd64", 1)
		must(t, s.SetLabels(ctx, img.ID, c.labels))
	}
	search := func(q meta.SearchQuery) []string {
		t.Helper()
		if q.Limit == 0 {
			q.Limit = 100
		}
		hits, err := s.SearchImages(ctx, q)
		must(t, err)
		var out []string
		for _, h := range hits {
			out = append(out, h.Container.Name+"@"+h.Image.Digest[7:8])
		}
		return out
	}
	// Newest first, as every search.
	wantNames(t, "key alone", search(meta.SearchQuery{LabelKey: "org.example.suite"}), "bwa@a", "blast@b", "blast@a")
	wantNames(t, "key alone, owner", search(meta.SearchQuery{LabelKey: "org.example.suite", Viewer: meta.Viewer{UserID: alice.ID}}),
		"blast-dev@a", "bwa@a", "blast@b", "blast@a")
	wantNames(t, "key and value", search(meta.SearchQuery{LabelKey: "Version", LabelValue: "2.15"}), "blast@b")
	wantNames(t, "text and label", search(meta.SearchQuery{Text: "bla", LabelKey: "Version"}), "blast@b", "blast@a")
	wantNames(t, "text and label value", search(meta.SearchQuery{Text: "bwa", LabelKey: "Version", LabelValue: "2.14"}))
	wantNames(t, "no such label", search(meta.SearchQuery{LabelKey: "nope"}))
	wantNames(t, "neither text nor label", search(meta.SearchQuery{}))
	wantNames(t, "page", search(meta.SearchQuery{LabelKey: "org.example.suite", Limit: 1, Offset: 1}), "blast@b")
	wantNames(t, "page, owner", search(meta.SearchQuery{LabelKey: "org.example.suite", Viewer: meta.Viewer{UserID: alice.ID},
		Limit: 2, Offset: 2}), "blast@b", "blast@a")
}
