package sqlmeta

import "testing"

func TestRebind(t *testing.T) {
	pg := &Store{postgres: true}
	for q, want := range map[string]string{
		`SELECT a FROM t WHERE x = ? AND y = ?`:       `SELECT a FROM t WHERE x = $1 AND y = $2`,
		`SELECT '?' FROM t WHERE x = ?`:               `SELECT '?' FROM t WHERE x = $1`,
		`SELECT 'it''s?' FROM t WHERE x = ? OR y = ?`: `SELECT 'it''s?' FROM t WHERE x = $1 OR y = $2`,
	} {
		if got := pg.rebind(q); got != want {
			t.Errorf("rebind(%q) = %q, want %q", q, got, want)
		}
		if got := pg.rebind(q); got != want {
			t.Errorf("cached rebind(%q) = %q", q, got)
		}
	}
	lite := &Store{}
	if q := `SELECT ? FROM t`; lite.rebind(q) != q {
		t.Error("SQLite queries must stay as written")
	}
}
