package sqlmeta

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

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

// TestSQLiteSearchPool: on SQLite only the search pool maps the database
// file (a map is remapped in every read transaction after a write), and
// searches read through it.
func TestSQLiteSearchPool(t *testing.T) {
	ctx := context.Background()
	s := openTestSQLite(t, filepath.Join(t.TempDir(), "silo.db"))
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
