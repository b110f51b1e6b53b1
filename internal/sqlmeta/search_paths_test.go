package sqlmeta

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/logctx"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/metatest"
	"github.com/silo-hpc/silo/internal/pgtest"
)

// TestSearchPaths: however a search finds its page (on PostgreSQL the
// sample of the newest rows, the walk it predicts, the walk on that
// follows, the GIN indexes, the walk to the end, each taken under some
// setting of pgSample and pgDense below), it is the page of the newest
// visible matches that a reference computed from the rows gives, for
// every viewer, page and filter.
func TestSearchPaths(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) { testSearchPaths(t, db) })
	}
}

func testSearchPaths(t *testing.T, db string) {
	ctx := context.Background()
	var s *Store
	var err error
	if db == "sqlite" {
		s, err = OpenSQLite(ctx, filepath.Join(t.TempDir(), "silo.db"))
	} else {
		s, err = OpenPostgres(ctx, pgtest.DSN(t))
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, viewers := pathsFixture(t, s)
	// What is asked: containers by text; images by text and architecture,
	// by text and a label's key and value, by a label's key alone (and
	// architecture).
	variants := []struct {
		text, arch, value string
		label, images     bool
	}{{"needle", "", "", false, false}, {"needle", "amd64", "", false, true}, {"needle", "", "bio", true, true},
		{"", "amd64", "", true, true}}
	// The steps each search took, from its debug log.
	steps := map[string]bool{}
	ctx = logctx.With(ctx, slog.New(stepsHandler(steps)))
	defer func(sample, dense, labels int64) { pgSample, pgDense, labelDense = sample, dense, labels }(pgSample, pgDense, labelDense)
	for _, tune := range [][3]int64{{1000, 5000, 5000}, {4, 3, 1}, {1, 1, 5000}, {16, 2, 1}, {4, 1000, 5000}, {64, 8, 1}, {40, 3, 1}} {
		pgSample, pgDense, labelDense = tune[0], tune[1], tune[2]
		for _, v := range viewers {
			for _, vr := range variants {
				var want []string // newest first
				for _, r := range slices.Backward(rows) {
					if strings.Contains(r.name, vr.text) && v.reads(r.collection) && (vr.arch == "" || r.arch == vr.arch) &&
						(!vr.label || r.suite != "" && (vr.value == "" || r.suite == vr.value)) {
						want = append(want, r.name)
					}
				}
				for _, p := range [][2]int{{200, 0}, {7, 0}, {7, 14}, {5, 60}, {3, 150}, {50, 100}} {
					q := meta.SearchQuery{Text: vr.text, Viewer: v.v, Limit: p[0], Offset: p[1]}
					if vr.arch != "" {
						q.Arches = []string{vr.arch}
					}
					if vr.label {
						q.LabelKey, q.LabelValue = "suite", vr.value
					}
					wantPage := want[min(p[1], len(want)):min(p[1]+p[0], len(want))]
					if got := pathsSearch(ctx, t, s, q, vr.images); !slices.Equal(got, wantPage) {
						t.Errorf("pgSample %d, pgDense %d, labelDense %d, %s, %+v, limit %d offset %d:\n got %q\nwant %q",
							pgSample, pgDense, labelDense, v.name, vr, p[0], p[1], got, wantPage)
					}
				}
			}
		}
	}
	if db == "postgres" {
		for _, step := range []string{"sample", "walk", "walk on", "probe", "walk to the end", "labels"} {
			if !steps[step] {
				t.Errorf("no search took the step %q", step)
			}
		}
	}
}

// pathRow is a container of pathsFixture, with its image's architecture
// and the value of its label "suite" ("": none).
type pathRow struct {
	name, collection, arch, suite string
}

// pathViewer is a caller of TestSearchPaths and which collections it may
// read.
type pathViewer struct {
	name  string
	v     meta.Viewer
	reads func(collection string) bool
}

// pathsFixture makes 300 containers, oldest first, each with an image
// (amd64 or arm64; most with the label "suite", the others "other"): needles scattered among others in
// collections of every privacy, then a block of hidden needles, then
// newest rows with few needles.
func pathsFixture(t *testing.T, s *Store) ([]pathRow, []pathViewer) {
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	alice, carol, mallory := metatest.MkUser(t, s, "alice"), metatest.MkUser(t, s, "carol"), metatest.MkUser(t, s, "mallory")
	team := meta.Team{Name: "lab"}
	must(s.CreateTeam(ctx, &team))
	must(s.AddTeamMember(ctx, team.ID, carol.ID))
	ent := meta.Entity{Name: "lib", OwnerID: alice.ID}
	must(s.CreateEntity(ctx, &ent))
	cols := map[string]meta.Collection{}
	for _, c := range []struct {
		name    string
		owner   meta.User
		private bool
	}{{"pub", alice, false}, {"shared", alice, true}, {"hidden", mallory, true}} {
		col := meta.Collection{EntityID: ent.ID, Name: c.name, OwnerID: c.owner.ID, Private: c.private}
		must(s.CreateCollection(ctx, &col))
		cols[c.name] = col
	}
	must(s.GrantCollection(ctx, cols["shared"].ID, team.ID))
	var rows []pathRow
	for i := range 300 {
		r := pathRow{fmt.Sprintf("other-%03d", i), "pub", "amd64", []string{"bio", "chem", "", "bio", "bio", "", "chem"}[i%7]}
		switch {
		case i < 150 && i%3 != 0:
			r.name = fmt.Sprintf("needle-%03d", i)
			r.collection = []string{"pub", "shared", "hidden", "pub", "hidden"}[i%5]
		case i < 250:
			r.name, r.collection = fmt.Sprintf("needle-%03d", i), "hidden"
		case i%25 == 0:
			r.name = fmt.Sprintf("needle-%03d", i)
		}
		if i%4 == 1 {
			r.arch = "arm64"
		}
		rows = append(rows, r)
	}
	must(s.InTx(ctx, func(tx meta.Store) error {
		for _, r := range rows {
			con := meta.Container{CollectionID: cols[r.collection].ID, Name: r.name}
			must(tx.CreateContainer(ctx, &con))
			img := meta.Image{ContainerID: con.ID, Digest: "sha256:1", Arch: r.arch, Uploaded: true}
			must(tx.CreateImage(ctx, &img))
			labels := map[string]string{"suite": r.suite}
			if r.suite == "" {
				labels = map[string]string{"other": "bio"} // not the key searched
			}
			must(tx.SetLabels(ctx, img.ID, labels))
		}
		return nil
	}))
	if s.postgres {
		_, err := s.db.ExecContext(ctx, "ANALYZE")
		must(err)
	}
	return rows, []pathViewer{
		{"anonymous", meta.Viewer{}, func(c string) bool { return c == "pub" }},
		{"alice", meta.Viewer{UserID: alice.ID}, func(c string) bool { return c != "hidden" }},
		{"carol", meta.Viewer{UserID: carol.ID}, func(c string) bool { return c != "hidden" }},
		{"mallory", meta.Viewer{UserID: mallory.ID}, func(c string) bool { return c != "shared" }},
		{"admin", meta.Viewer{UserID: "root", Admin: true}, func(string) bool { return true }},
	}
}

// pathsSearch returns the names of the containers q finds, or of the
// containers of the images it finds.
func pathsSearch(ctx context.Context, t *testing.T, s *Store, q meta.SearchQuery, images bool) []string {
	t.Helper()
	var got []string
	if !images {
		cons, err := s.SearchContainers(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range cons {
			got = append(got, h.Container.Name)
		}
		return got
	}
	imgs, err := s.SearchImages(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range imgs {
		got = append(got, h.Container.Name)
	}
	return got
}

// stepsHandler is a slog handler that records the steps of pgSearch's
// debug log in steps.
type stepsHandler map[string]bool

func (h stepsHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h stepsHandler) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "steps" {
			for _, step := range a.Value.Any().([]string) {
				h[step] = true
			}
		}
		return true
	})
	return nil
}

func (h stepsHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h stepsHandler) WithGroup(string) slog.Handler      { return h }
