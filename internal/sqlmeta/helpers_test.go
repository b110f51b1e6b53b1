package sqlmeta

import (
	"context"
	"testing"
)

// openTestSQLite opens (creating) the SQLite store at path, closed when
// the test ends.
func openTestSQLite(t *testing.T, path string) *Store {
	t.Helper()
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
