package sqlmeta

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// checkpointEvery is how often the WAL is copied into the database file.
// Between checkpoints the WAL grows by what was written meanwhile; a
// passive checkpoint never waits for, or blocks, readers and writers.
const checkpointEvery = time.Second

// checkpointer runs SQLite WAL checkpoints on its own connection, off the
// writer's path (OpenSQLite turns the writer's automatic checkpoints off).
type checkpointer struct {
	db   *sql.DB
	quit chan struct{}
	done chan struct{}
}

func newCheckpointer(db *sql.DB) *checkpointer {
	c := &checkpointer{db: db, quit: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

func (c *checkpointer) run() {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-t.C:
			// A failed checkpoint is retried at the next tick; the WAL is
			// still a complete, durable log meanwhile.
			_, _ = c.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

// stop ends the goroutine and folds the WAL into the database, so a
// stopped server leaves a compact database file behind.
func (c *checkpointer) stop() error {
	close(c.quit)
	<-c.done
	_, err := c.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)")
	return errors.Join(err, c.db.Close())
}
