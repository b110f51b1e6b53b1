package sqlmeta

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/logctx"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/metatest"
	"github.com/silo-hpc/silo/internal/pgtest"
)

// TestSearchMigrationIndexesExistingRows: a database written before the
// search migrations gets its rows indexed by them.
func TestSearchMigrationIndexesExistingRows(t *testing.T) {
	ctx := context.Background()
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			old, reopen := storeBefore(t, db, "0003")
			alice := metatest.MkUser(t, old, "alice")
			_, _, con := metatest.MkContainer(t, old, alice, "alice", "bio-tools", "blast")
			if err := old.CreateImage(ctx, &meta.Image{ContainerID: con.ID, Digest: "sha256:1", Uploaded: true}); err != nil {
				t.Fatal(err)
			}
			s := reopen()
			q := meta.SearchQuery{Text: "blast", Limit: 10}
			cons, err := s.SearchContainers(ctx, q)
			if err != nil || len(cons) != 1 {
				t.Fatalf("containers %v %v", cons, err)
			}
			imgs, err := s.SearchImages(ctx, meta.SearchQuery{Text: "bio-tool", Limit: 10})
			if err != nil || len(imgs) != 1 {
				t.Fatalf("images %v %v", imgs, err)
			}
			// Rows written after the migration are indexed as well.
			metatest.MkContainer(t, s, alice, "alice", "bio-tools", "blastp")
			if cons, _ = s.SearchContainers(ctx, q); len(cons) != 2 {
				t.Fatalf("containers after a new one %v", cons)
			}
		})
	}
}

// TestSearchOrderMigration: a database indexed by 0003 (name order) gets
// indexes that number its rows by creation time, with their privacy and
// filters, and keeps them in step afterwards.
func TestSearchOrderMigration(t *testing.T) {
	ctx := context.Background()
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			old, reopen := storeBefore(t, db, "0004")
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			alice, carol := metatest.MkUser(t, old, "alice"), metatest.MkUser(t, old, "carol")
			team := meta.Team{Name: "lab"}
			must(old.CreateTeam(ctx, &team))
			must(old.AddTeamMember(ctx, team.ID, carol.ID))
			at := func(day int) time.Time { return time.Date(2024, 1, day, 0, 0, 0, 0, time.UTC) }
			// Written out of the order of their creation times.
			for _, c := range []struct {
				collection, name string
				day              int
			}{{"tools", "blast-2", 2}, {"tools", "blast-1", 1}, {"vault", "blast-secret", 4}, {"tools", "blast-3", 3}} {
				_, col, _ := metatest.MkContainer(t, old, alice, "alice", c.collection, fmt.Sprint("filler", c.day))
				con := meta.Container{CollectionID: col.ID, Name: c.name, CreatedAt: at(c.day)}
				must(old.CreateContainer(ctx, &con))
				must(old.CreateImage(ctx, &meta.Image{ContainerID: con.ID, Digest: "sha256:1", Arch: "amd64", Uploaded: true,
					CreatedAt: at(c.day)}))
				must(old.CreateImage(ctx, &meta.Image{ContainerID: con.ID, Digest: "sha256:2", CreatedAt: at(c.day)})) // pending
				if c.collection == "vault" {
					col.Private = true
					must(old.UpdateCollection(ctx, &col))
					must(old.GrantCollection(ctx, col.ID, team.ID))
				}
			}
			s := reopen()
			names := func(v meta.Viewer, text string) (cons, imgs []string) {
				t.Helper()
				q := meta.SearchQuery{Text: text, Viewer: v, Arches: []string{"amd64"}, Limit: 10}
				ch, err := s.SearchContainers(ctx, q)
				must(err)
				for _, h := range ch {
					cons = append(cons, h.Container.Name)
				}
				ih, err := s.SearchImages(ctx, q)
				must(err)
				for _, h := range ih {
					imgs = append(imgs, h.Container.Name)
				}
				return cons, imgs
			}
			for _, tc := range []struct {
				who  string
				v    meta.Viewer
				text string
				want []string
			}{
				{"admin", meta.Viewer{UserID: "root", Admin: true}, "blast-", []string{"blast-secret", "blast-3", "blast-2", "blast-1"}},
				{"anonymous", meta.Viewer{}, "blast-", []string{"blast-3", "blast-2", "blast-1"}},
				{"team member", meta.Viewer{UserID: carol.ID}, "blast-", []string{"blast-secret", "blast-3", "blast-2", "blast-1"}},
				{"by path", meta.Viewer{}, "alice/tools/blast", []string{"blast-3", "blast-2", "blast-1"}},
			} {
				cons, imgs := names(tc.v, tc.text)
				if tc.text != "blast-" {
					cons = tc.want // containers are not found by path
				}
				if !slices.Equal(cons, tc.want) || !slices.Equal(imgs, tc.want) {
					t.Errorf("%s: containers %q, images %q, want %q", tc.who, cons, imgs, tc.want)
				}
			}
			// New rows come first and are kept in step.
			_, col, con := metatest.MkContainer(t, s, alice, "alice", "vault", "blast-new")
			must(s.CreateImage(ctx, &meta.Image{ContainerID: con.ID, Digest: "sha256:1", Arch: "amd64", Uploaded: true}))
			col.Private = false
			must(s.UpdateCollection(ctx, &col))
			if cons, imgs := names(meta.Viewer{}, "blast-"); !slices.Equal(cons, []string{"blast-new", "blast-secret", "blast-3", "blast-2", "blast-1"}) ||
				!slices.Equal(imgs, cons) {
				t.Errorf("after writes: containers %q, images %q", cons, imgs)
			}
		})
	}
}

// storeBefore returns a store of a new database (db: sqlite or postgres)
// migrated up to, but not including, version, and a function that closes
// it and opens the database as a Store does, migrating it.
func storeBefore(t *testing.T, db, version string) (old *Store, reopen func() *Store) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "silo.db")
	driver, dsn := "sqlite", "file:"+path+"?_pragma=foreign_keys(1)"
	if db == "postgres" {
		driver, dsn = "pgx", pgtest.DSN(t)
	}
	sdb, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	cache := &stmtCache{}
	old = &Store{db: sdb, rd: sdb, postgres: db == "postgres", wstmts: cache, rstmts: cache}
	if err := old.migrateFiles(ctx, migrationsBefore(t, version)); err != nil {
		t.Fatal(err)
	}
	return old, func() *Store {
		sdb.Close()
		var s *Store
		if db == "postgres" {
			s, err = OpenPostgres(ctx, dsn)
		} else {
			s, err = OpenSQLite(ctx, path)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func migrationsBefore(t *testing.T, version string) []string {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		if strings.TrimPrefix(n, "migrations/") < version {
			out = append(out, n)
		}
	}
	return out
}

// TestSearchIndexInSync: after inserts, renames, privacy changes, team
// grants, uploads, deletes and cascading deletes, each search index holds
// exactly what its docs view says (the rows of its table with their
// current text, privacy and filters), on SQLite and PostgreSQL; SQLite's
// FTS tables pass FTS5's own integrity check.
func TestSearchIndexInSync(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) { testSearchIndexInSync(t, db) })
	}
}

func testSearchIndexInSync(t *testing.T, db string) {
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
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	alice, carol := metatest.MkUser(t, s, "alice"), metatest.MkUser(t, s, "carol")
	team, other := meta.Team{Name: "lab"}, meta.Team{Name: "other"}
	must(s.CreateTeam(ctx, &team))
	must(s.CreateTeam(ctx, &other))
	must(s.AddTeamMember(ctx, team.ID, carol.ID))
	for c := range 4 {
		for k := range 3 {
			_, _, con := metatest.MkContainer(t, s, alice, "alice", fmt.Sprint("col", c), fmt.Sprint("con", k))
			for i := range 2 {
				must(s.CreateImage(ctx, &meta.Image{ContainerID: con.ID, Digest: fmt.Sprint("sha256:", i), Description: "d",
					Uploaded: i == 0, Metadata: `{"signed":true,"verified":true}`}))
			}
		}
	}
	cols, err := s.ListCollections(ctx, mustEntity(t, s, "alice").ID)
	must(err)
	cols[0].Name, cols[0].Description = "renamed", "new words"
	must(s.UpdateCollection(ctx, &cols[0]))
	cols[2].Private = true
	must(s.UpdateCollection(ctx, &cols[2]))
	must(s.GrantCollection(ctx, cols[2].ID, team.ID))
	must(s.GrantCollection(ctx, cols[2].ID, other.ID))
	must(s.GrantCollection(ctx, cols[3].ID, team.ID)) // public: no change
	cols[3].Private, cols[3].OwnerID = true, carol.ID
	must(s.UpdateCollection(ctx, &cols[3]))
	must(s.RevokeCollection(ctx, cols[2].ID, team.ID))
	cons, err := s.ListContainers(ctx, cols[0].ID)
	must(err)
	cons[0].Description = "described"
	must(s.UpdateContainer(ctx, &cons[0]))
	cons[1].Frozen = true // no text change
	must(s.UpdateContainer(ctx, &cons[1]))
	must(s.DeleteContainer(ctx, cons[2].ID))  // cascades to 2 images
	must(s.DeleteCollection(ctx, cols[1].ID)) // cascades to 3 containers, 6 images
	imgs, err := s.ListImages(ctx, cons[0].ID)
	must(err)
	imgs[0].Description, imgs[0].Arch, imgs[0].Metadata = "changed", "arm64", "not json"
	must(s.UpdateImage(ctx, &imgs[0]))
	imgs[1].Uploaded = true
	must(s.UpdateImage(ctx, &imgs[1]))
	// No store method does these yet.
	_, err = s.db.ExecContext(ctx, s.rebind(`DELETE FROM teams WHERE id = ?`), other.ID) // cascades to its grant
	must(err)
	_, err = s.db.ExecContext(ctx, s.rebind(`UPDATE entities SET name = ? WHERE name = ?`), "alicia", "alice")
	must(err)

	for _, tc := range []struct {
		table, docs string
		rows        int
		// The columns of the index.
		sqlite, pg string
	}{
		{"entities", "search_entity_docs", 1, "id, name, description", "id, doc"},
		{"collections", "search_collection_docs", 3, "id, name, description, keys",
			"id, collection_id, doc, private, owner_id"},
		{"containers", "search_container_docs", 8, "id, name, description, keys",
			"id, collection_id, doc, private, owner_id"},
		{"images", "search_image_docs", 16, "id, path, container_description, description, keys",
			"id, collection_id, doc, private, owner_id, arch, signed, uploaded"},
	} {
		// SQLite: <table>_fts by rowid, search_keys; PostgreSQL: search_<table>
		// (its docs views have no n).
		index, keys, cols, docCols := tc.table+"_fts", "search_keys WHERE kind = '"+tc.table+"'", "rowid, "+tc.sqlite, "n, "+tc.sqlite
		if db == "postgres" {
			index, keys, cols, docCols = "search_"+tc.table, "search_"+tc.table, tc.pg, tc.pg
		}
		var n, nkeys, missing, extra int
		must(s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+tc.table).Scan(&n))
		must(s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+keys).Scan(&nkeys))
		must(s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT `+docCols+` FROM `+tc.docs+
			` EXCEPT SELECT `+cols+` FROM `+index+`) x`).Scan(&missing))
		must(s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT `+cols+` FROM `+index+
			` EXCEPT SELECT `+docCols+` FROM `+tc.docs+`) x`).Scan(&extra))
		if n != tc.rows || nkeys != n || missing != 0 || extra != 0 {
			t.Errorf("%s: %d rows, %d keys, %d missing from the index, %d there but not in the docs", tc.table, n, nkeys, missing, extra)
		}
		if db == "sqlite" {
			if _, err := s.db.ExecContext(ctx, `INSERT INTO `+index+` (`+index+`) VALUES ('integrity-check')`); err != nil {
				t.Errorf("%s: %v", tc.table, err)
			}
		}
	}
	// What the docs say, for the rows that changed.
	var got []string
	q := `SELECT path || ' |' || keys FROM search_image_docs ORDER BY n`
	if db == "postgres" {
		q = `SELECT split_part(doc, chr(1), 1) || ' |' || private || ' ' || owner_id || ' ' || arch || ' ' || signed
			FROM search_images WHERE uploaded ORDER BY n`
	}
	rows, err := s.db.QueryContext(ctx, q)
	must(err)
	for rows.Next() {
		var line string
		must(rows.Scan(&line))
		got = append(got, line)
	}
	must(rows.Err())
	rows.Close()
	if db == "sqlite" {
		// The flags, readably.
		flags := []string{"\ue000pu", "pub ", "\ue000si", "signed "}
		rows, err := s.db.QueryContext(ctx, `SELECT n, arch FROM search_arches`)
		must(err)
		for rows.Next() {
			var n int
			var arch string
			must(rows.Scan(&n, &arch))
			flags = append(flags, string([]rune{0xe000, rune(0xe001 + n%6000), rune(0xe001 + n/6000)}), "a:"+arch+" ")
		}
		must(rows.Err())
		rows.Close()
		for i := range got {
			got[i] = strings.NewReplacer(flags...).Replace(got[i])
		}
	}
	want := []string{"alicia/renamed/con0 |pub a:arm64 ", "alicia/renamed/con0 |pub a: signed ", "alicia/renamed/con1 |pub a: signed "}
	for k := range 3 {
		want = append(want, fmt.Sprintf("alicia/col2/con%d | u:%s a: signed ", k, alice.ID))
	}
	for k := range 3 {
		want = append(want, fmt.Sprintf("alicia/col3/con%d | u:%s t:%s a: signed ", k, carol.ID, team.ID))
	}
	if db == "postgres" {
		want = []string{"alicia/renamed/con0 |false " + alice.ID + " arm64 false", "alicia/renamed/con0 |false " + alice.ID + "  true",
			"alicia/renamed/con1 |false " + alice.ID + "  true"}
		for k := range 3 {
			want = append(want, fmt.Sprintf("alicia/col2/con%d |true %s  true", k, alice.ID))
		}
		for k := range 3 {
			want = append(want, fmt.Sprintf("alicia/col3/con%d |true %s  true", k, carol.ID))
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("images' paths and keys:\n got %q\nwant %q", got, want)
	}
}

func mustEntity(t *testing.T, s *Store, name string) meta.Entity {
	e, err := s.GetEntityByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestSplitStatements(t *testing.T) {
	got := splitStatements(`CREATE TABLE a (x TEXT);
CREATE TRIGGER t AFTER INSERT ON a BEGIN
    INSERT INTO b VALUES (1);
    DELETE FROM c;
END;
INSERT INTO a VALUES ('x');
`)
	if len(got) != 3 || !strings.Contains(got[1], "DELETE FROM c;\nEND") {
		t.Fatalf("%d statements: %q", len(got), got)
	}
	got = splitStatements(`CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO b VALUES (1);
    RETURN NULL;
END $$;
CREATE TRIGGER t AFTER INSERT ON a FOR EACH ROW EXECUTE FUNCTION f();
CREATE INDEX i ON a (x);
`)
	if len(got) != 3 || !strings.Contains(got[0], "RETURN NULL;\nEND $$") || !strings.HasPrefix(strings.TrimSpace(got[1]), "CREATE TRIGGER t") {
		t.Fatalf("%d statements: %q", len(got), got)
	}
}

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

// TestSQLiteSearchPool: on SQLite only the search pool maps the database
// file (a map is remapped in every read transaction after a write), and
// searches read through it.
func TestSQLiteSearchPool(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "silo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range []struct {
		name string
		db   *sql.DB
		want int64
	}{{"writer", s.db, 0}, {"reads", s.rd, 0}, {"searches", s.srch, 2147418112}} {
		var got int64
		if err := p.db.QueryRowContext(ctx, `PRAGMA mmap_size`).Scan(&got); err != nil || got != p.want {
			t.Errorf("%s: mmap_size %d %v, want %d", p.name, got, err, p.want)
		}
	}
	_, _, con := metatest.MkContainer(t, s, metatest.MkUser(t, s, "alice"), "alice", "tools", "blast")
	if err := s.CreateImage(ctx, &meta.Image{ContainerID: con.ID, Digest: "sha256:1", Uploaded: true}); err != nil {
		t.Fatal(err)
	}
	hits, err := s.SearchImages(ctx, meta.SearchQuery{Text: "blast", Limit: 10})
	if err != nil || len(hits) != 1 {
		t.Fatalf("%v %v", hits, err)
	}
	// The search's statements were prepared on the search pool alone.
	fts := func(c *stmtCache) (n int) {
		c.m.Range(func(q, _ any) bool {
			if strings.Contains(q.(string), "images_fts") {
				n++
			}
			return true
		})
		return n
	}
	if fts(s.sstmts) == 0 || fts(s.rstmts) != 0 {
		t.Errorf("search statements: %d on the search pool, %d on the read pool", fts(s.sstmts), fts(s.rstmts))
	}
}
