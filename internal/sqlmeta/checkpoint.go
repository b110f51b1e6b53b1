package sqlmeta

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/silo-hpc/silo/internal/periodic"
)

// checkpointEvery is how often the WAL is copied into the database file.
// Between checkpoints the WAL grows by what was written meanwhile; a
// passive checkpoint never waits for, or blocks, readers and writers. (A
// variable for tests.)
var checkpointEvery = time.Second

// walLimitPages is the WAL size, in pages, past which a checkpoint also
// empties the WAL file (64 MiB of 4 KiB pages). SQLite reuses the WAL from
// its start only when a writer begins after a checkpoint copied all of it
// and no reader still reads from it; writers that never pause (a bulk
// load, a long burst of pushes) keep passive checkpoints behind, and the
// file grew without bound: 19.5 GB while bench/search generated a million
// containers. (A variable for tests.)
var walLimitPages = 16384

// walTruncateWait bounds how long an emptying checkpoint waits for
// readers of older snapshots; new writers wait for it meanwhile (SQLite's
// TRUNCATE mode), so it gives up after this and tries again at the next
// tick. (A variable for tests.)
var walTruncateWait = 250 * time.Millisecond

// checkpointer runs SQLite WAL checkpoints on its own connection, off the
// writer's path (OpenSQLite turns the writer's automatic checkpoints off).
type checkpointer struct {
	db   *sql.DB
	loop *periodic.Loop
	mu   sync.Mutex // one checkpoint at a time
	// wait and skip back off emptying checkpoints that readers kept from
	// finishing: each holds writers off for up to walTruncateWait, so
	// after one fails the next waits 2, 4, ... up to maxTruncateBackoff
	// checkpoints.
	wait, skip int
}

// maxTruncateBackoff bounds how many ticks an emptying checkpoint waits
// after readers kept the last one from finishing.
const maxTruncateBackoff = 32

func newCheckpointer(db *sql.DB) *checkpointer {
	c := &checkpointer{db: db}
	// A failed checkpoint is retried at the next tick; the WAL is still a
	// complete, durable log meanwhile.
	c.loop = periodic.Run(checkpointEvery, func() { _ = c.checkpoint(context.Background()) })
	return c
}

// checkpoint copies the WAL into the database without waiting for anyone
// and, when the WAL has grown past walLimitPages, empties it: it waits up
// to walTruncateWait for readers of older snapshots, then copies the rest
// and truncates the file. One connection (the checkpointer's pool has
// one), so the busy timeout set for the wait is the one it runs under.
func (c *checkpointer) checkpoint(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var busy, pages, copied int
	if err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &pages, &copied); err != nil || pages < walLimitPages {
		return err
	}
	if c.skip > 0 {
		c.skip--
		return nil
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.FormatInt(walTruncateWait.Milliseconds(), 10)); err != nil {
		return err
	}
	// busy = 1 when readers kept it from finishing: a later tick tries
	// again, after a longer pause each time it fails.
	err = conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &pages, &copied)
	if err == nil && busy != 0 {
		c.wait = min(max(2*c.wait, 2), maxTruncateBackoff)
		c.skip = c.wait
	} else if err == nil {
		c.wait = 0
	}
	_, rerr := conn.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.FormatInt(busyTimeout.Milliseconds(), 10))
	return errors.Join(err, rerr)
}

// stop ends the goroutine and folds the WAL into the database, so a
// stopped server leaves a compact database file behind.
func (c *checkpointer) stop() error {
	c.loop.Stop()
	_, err := c.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)")
	return errors.Join(err, c.db.Close())
}
