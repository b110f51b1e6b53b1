package metatest

import (
	"context"
	"testing"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

// testSRegistry checks meta.SRegistry: exact lookups across entities,
// privacy against access.Checker, and download salts.
func testSRegistry(t *testing.T, newStore NewStore) {
	t.Run("find-collections", func(t *testing.T) { testFindCollections(t, newStore(t)) })
	t.Run("find-tags", func(t *testing.T) { testFindTags(t, newStore(t)) })
	t.Run("privacy", func(t *testing.T) { testSRegistryPrivacy(t, newStore(t)) })
	t.Run("download-salts", func(t *testing.T) { testDownloadSalts(t, newStore(t)) })
}

func testFindCollections(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice, bob := MkUser(t, s, "alice"), MkUser(t, s, "bob")
	MkContainer(t, s, bob, "bob", "tools", "x")
	aliceEnt, _, _ := MkContainer(t, s, alice, "alice", "tools", "x")
	MkContainer(t, s, alice, "alice", "tools-extra", "x")
	MkContainer(t, s, alice, "alice", "apps", "x")
	find := func(q meta.CollectionQuery) []string {
		t.Helper()
		q.Viewer = admin
		hits, err := s.FindCollections(ctx, q)
		must(t, err)
		var names []string
		for _, h := range hits {
			names = append(names, h.Entity.Name+"/"+h.Collection.Name)
		}
		return names
	}
	wantNames(t, "by name, across entities, exact", find(meta.CollectionQuery{Name: "tools"}), "alice/tools", "bob/tools")
	wantNames(t, "by entity", find(meta.CollectionQuery{EntityID: aliceEnt.ID}), "alice/apps", "alice/tools", "alice/tools-extra")
	wantNames(t, "by both", find(meta.CollectionQuery{EntityID: aliceEnt.ID, Name: "tools"}), "alice/tools")
	wantNames(t, "no pattern", find(meta.CollectionQuery{Name: "tool%"}))
	wantNames(t, "all", find(meta.CollectionQuery{}), "alice/apps", "alice/tools", "alice/tools-extra", "bob/tools")
}

func testFindTags(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice := MkUser(t, s, "alice")
	_, _, py := MkContainer(t, s, alice, "alice", "tools", "python")
	_, _, rb := MkContainer(t, s, alice, "alice", "tools", "ruby")
	MkContainer(t, s, alice, "alice", "tools", "untagged")
	bobEnt, _, bpy := MkContainer(t, s, alice, "bob", "tools", "python")
	a := mkImage(t, s, py, digestA, "amd64", 10)
	b := mkImage(t, s, py, digestB, "arm64", 20)
	r := mkImage(t, s, rb, digestA, "amd64", 10)
	bp := mkImage(t, s, bpy, digestB, "amd64", 30)
	for _, tg := range []meta.LibraryTag{
		{ContainerID: py.ID, Arch: "amd64", Tag: "latest", ImageID: a.ID},
		{ContainerID: py.ID, Arch: "arm64", Tag: "latest", ImageID: b.ID},
		{ContainerID: py.ID, Arch: "amd64", Tag: "v1", ImageID: a.ID},
		{ContainerID: rb.ID, Arch: "amd64", Tag: "latest", ImageID: r.ID},
		{ContainerID: bpy.ID, Arch: "amd64", Tag: "latest", ImageID: bp.ID},
	} {
		must(t, s.SetLibraryTag(ctx, &tg))
	}
	find := func(q meta.TagQuery) []string {
		t.Helper()
		q.Viewer = admin
		rows, err := s.FindTags(ctx, q)
		must(t, err)
		var names []string
		for _, row := range rows {
			if row.Tag.ImageID != row.Image.ID || row.Image.ContainerID != row.Container.ID || row.Container.CollectionID != row.Collection.ID {
				t.Fatalf("row parts disagree: %+v", row)
			}
			names = append(names, row.Entity.Name+"/"+row.Collection.Name+"/"+row.Container.Name+":"+row.Tag.Tag+"@"+row.Tag.Arch)
		}
		return names
	}
	wantNames(t, "all", find(meta.TagQuery{}), "alice/tools/python:latest@amd64", "alice/tools/python:latest@arm64",
		"alice/tools/python:v1@amd64", "alice/tools/ruby:latest@amd64", "bob/tools/python:latest@amd64")
	wantNames(t, "exact names", find(meta.TagQuery{Collection: "tools", Container: "python", Tag: "latest"}),
		"alice/tools/python:latest@amd64", "alice/tools/python:latest@arm64", "bob/tools/python:latest@amd64")
	wantNames(t, "in an entity", find(meta.TagQuery{EntityID: bobEnt.ID}), "bob/tools/python:latest@amd64")
	wantNames(t, "by tag", find(meta.TagQuery{Tag: "v1"}), "alice/tools/python:v1@amd64")
	wantNames(t, "no pattern", find(meta.TagQuery{Container: "pyth%"}))
	rows, err := s.FindTags(ctx, meta.TagQuery{Container: "ruby", Viewer: admin})
	must(t, err)
	if len(rows) != 1 || rows[0].Image.Digest != digestA || rows[0].Image.Size != 10 || rows[0].Entity.Name != "alice" {
		t.Fatalf("ruby row: %+v", rows)
	}
}

// testSRegistryPrivacy checks both lookups against access.Checker, as
// the search is.
func testSRegistryPrivacy(t *testing.T, s meta.Store) {
	ctx := context.Background()
	cols, imgs, whos := privacyFixture(t, s)
	for _, img := range imgs {
		must(t, s.SetLibraryTag(ctx, &meta.LibraryTag{ContainerID: img.ContainerID, Arch: "amd64", Tag: "latest", ImageID: img.ID}))
	}
	for _, who := range whos {
		t.Run(who.name, func(t *testing.T) {
			v := meta.Viewer{UserID: who.p.UserID, Admin: who.p.IsAdmin()}
			want := readable(t, s, who.p, cols)
			hits, err := s.FindCollections(ctx, meta.CollectionQuery{Viewer: v})
			must(t, err)
			var got []string
			for _, h := range hits {
				got = append(got, h.Entity.Name+"/"+h.Collection.Name)
			}
			wantNames(t, "collections", got, want...)
			rows, err := s.FindTags(ctx, meta.TagQuery{Tag: "latest", Viewer: v})
			must(t, err)
			got = nil
			for _, r := range rows {
				got = append(got, r.Entity.Name+"/"+r.Collection.Name)
			}
			wantNames(t, "tags", got, want...)
		})
	}
}

func testDownloadSalts(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice := MkUser(t, s, "alice")
	_, col, _ := MkContainer(t, s, alice, "alice", "tools", "x")
	salt, err := s.GetDownloadSalt(ctx, col.ID)
	must(t, err)
	if salt != "" {
		t.Fatalf("salt before any rotation: %q", salt)
	}
	for _, want := range []string{"first", "second"} {
		must(t, s.SetDownloadSalt(ctx, col.ID, want))
		if salt, err = s.GetDownloadSalt(ctx, col.ID); err != nil || salt != want {
			t.Fatalf("salt %q, %v; want %q", salt, err, want)
		}
	}
	wantCode(t, s.SetDownloadSalt(ctx, "nosuchcollection", "x"), apperr.NotFound)
	// A deleted collection's salt goes with it.
	must(t, s.DeleteCollection(ctx, col.ID))
	if salt, err = s.GetDownloadSalt(ctx, col.ID); err != nil || salt != "" {
		t.Fatalf("salt of a deleted collection: %q, %v", salt, err)
	}
}
