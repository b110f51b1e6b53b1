package sqlmeta

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/metatest"
	"github.com/silo-hpc/silo/internal/pgtest"
)

// TestSearchMigrationIndexesExistingRows: a database written before the
// search migration gets its rows indexed by it.
func TestSearchMigrationIndexesExistingRows(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "silo.db")
	for _, tc := range []struct {
		name, driver, dsn string
		reopen            func(t *testing.T) (*Store, error)
	}{
		{"sqlite", "sqlite", "file:" + path + "?_pragma=foreign_keys(1)",
			func(t *testing.T) (*Store, error) { return OpenSQLite(ctx, path) }},
		{"postgres", "pgx", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.driver == "pgx" {
				dsn := pgtest.DSN(t)
				tc.dsn = dsn
				tc.reopen = func(t *testing.T) (*Store, error) { return OpenPostgres(ctx, dsn) }
			}
			db, err := sql.Open(tc.driver, tc.dsn)
			if err != nil {
				t.Fatal(err)
			}
			cache := &stmtCache{}
			old := &Store{db: db, rd: db, postgres: tc.driver == "pgx", wstmts: cache, rstmts: cache}
			if err := old.migrateFiles(ctx, migrationsBefore(t, "0003")); err != nil {
				t.Fatal(err)
			}
			alice := metatest.MkUser(t, old, "alice")
			_, _, con := metatest.MkContainer(t, old, alice, "alice", "bio-tools", "blast")
			if err := old.CreateImage(ctx, &meta.Image{ContainerID: con.ID, Digest: "sha256:1", Uploaded: true}); err != nil {
				t.Fatal(err)
			}
			db.Close()

			s, err := tc.reopen(t)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
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

// TestSearchIndexInSync: after inserts, renames, deletes and cascading
// deletes, each SQLite FTS table holds exactly its table's rows, with
// their current text, and passes FTS5's own integrity check.
func TestSearchIndexInSync(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "silo.db"))
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
	alice := metatest.MkUser(t, s, "alice")
	for c := range 3 {
		for k := range 3 {
			_, _, con := metatest.MkContainer(t, s, alice, "alice", fmt.Sprint("col", c), fmt.Sprint("con", k))
			for i := range 2 {
				must(s.CreateImage(ctx, &meta.Image{ContainerID: con.ID, Digest: fmt.Sprint("sha256:", i), Description: "d"}))
			}
		}
	}
	cols, err := s.ListCollections(ctx, mustEntity(t, s, "alice").ID)
	must(err)
	cols[0].Name, cols[0].Description = "renamed", "new words"
	must(s.UpdateCollection(ctx, &cols[0]))
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
	imgs[0].Description = "changed"
	must(s.UpdateImage(ctx, &imgs[0]))
	must(s.DeleteImage(ctx, imgs[1].ID))

	for _, tc := range []struct {
		table string
		cols  string
		rows  int
	}{
		{"entities", "name, description", 1},
		{"collections", "name, description", 2},
		{"containers", "name, description", 5},
		{"images", "description", 9},
	} {
		var n, fts, keys, same int
		must(s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+tc.table).Scan(&n))
		must(s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+tc.table+`_fts`).Scan(&fts))
		must(s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM search_keys WHERE kind = ?`, tc.table).Scan(&keys))
		join := `SELECT COUNT(*) FROM ` + tc.table + ` r JOIN search_keys k ON k.kind = '` + tc.table + `' AND k.id = r.id
			JOIN ` + tc.table + `_fts f ON f.rowid = k.n AND f.id = r.id`
		for _, c := range strings.Split(tc.cols, ", ") {
			join += ` AND f.` + c + ` = r.` + c
		}
		must(s.db.QueryRowContext(ctx, join).Scan(&same))
		if n != tc.rows || fts != n || keys != n || same != n {
			t.Errorf("%s: %d rows, %d indexed, %d keys, %d indexed with current text", tc.table, n, fts, keys, same)
		}
		if _, err := s.db.ExecContext(ctx, `INSERT INTO `+tc.table+`_fts (`+tc.table+`_fts) VALUES ('integrity-check')`); err != nil {
			t.Errorf("%s: %v", tc.table, err)
		}
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
}
