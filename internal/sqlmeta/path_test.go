package sqlmeta

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// Paths with characters SQLite URIs give a meaning to open the file named,
// not another one.
func TestOpenSQLiteOddPaths(t *testing.T) {
	for _, name := range []string{"a?b", "a#b", "a%20b", "a b"} {
		dir := filepath.Join(t.TempDir(), name)
		os.MkdirAll(dir, 0o755)
		s, err := OpenSQLite(context.Background(), filepath.Join(dir, "silo.db"))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		s.Close()
		if _, err := os.Stat(filepath.Join(dir, "silo.db")); err != nil {
			t.Errorf("%s: db not where expected: %v", name, err)
		}
	}
}
