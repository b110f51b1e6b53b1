package sqlmeta

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A WAL past walLimitPages is emptied by the next checkpoint, unless a
// reader of an older snapshot still needs it: then the checkpoint gives
// up after walTruncateWait (holding writers off no longer than that), the
// next two leave it be (back-off), and a later one, once the reader is
// done, empties it. Nothing written is lost either way.
func TestCheckpointEmptiesAGrownWAL(t *testing.T) {
	defer func(p int, w, e time.Duration) { walLimitPages, walTruncateWait, checkpointEvery = p, w, e }(walLimitPages, walTruncateWait, checkpointEvery)
	// The test runs the checkpoints itself; the store's own ticker waits.
	walLimitPages, walTruncateWait, checkpointEvery = 50, 100*time.Millisecond, time.Hour
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "meta.db")
	s := openTestSQLite(t, path)
	write := func(n int) {
		t.Helper()
		for range n {
			if _, err := s.db.ExecContext(ctx, "INSERT INTO filler (b) VALUES (randomblob(65536))"); err != nil {
				t.Fatal(err)
			}
		}
	}
	walSize := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	count := func() (n int) {
		t.Helper()
		if err := s.rd.QueryRowContext(ctx, "SELECT count(*) FROM filler").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := s.db.ExecContext(ctx, "CREATE TABLE filler (b BLOB)"); err != nil {
		t.Fatal(err)
	}
	write(10) // 640 KiB: 160 pages
	if err := s.checkpoints.checkpoint(ctx); err != nil || walSize() != 0 || count() != 10 {
		t.Fatalf("after the checkpoint: %v, WAL %d bytes, %d rows", err, walSize(), count())
	}

	// A reader in an older snapshot keeps the WAL.
	tx, err := s.rd.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var before int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM filler").Scan(&before); err != nil {
		t.Fatal(err)
	}
	write(10)
	start := time.Now()
	if err := s.checkpoints.checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); walSize() == 0 || took > walTruncateWait+2*time.Second {
		t.Fatalf("with a reader: WAL %d bytes, checkpoint took %s", walSize(), took)
	}
	write(1) // writers are not held off
	var during int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM filler").Scan(&during); err != nil || during != before {
		t.Fatalf("the reader's snapshot changed: %d rows, then %d (%v)", before, during, err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.checkpoints.checkpoint(ctx); err != nil || walSize() == 0 {
			t.Fatalf("checkpoint %d after a failed one: %v, WAL %d bytes (no back-off)", i+1, err, walSize())
		}
	}
	if err := s.checkpoints.checkpoint(ctx); err != nil || walSize() != 0 || count() != 21 {
		t.Fatalf("after the reader: %v, WAL %d bytes, %d rows", err, walSize(), count())
	}
}
