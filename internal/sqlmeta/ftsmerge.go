package sqlmeta

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/silo-hpc/silo/internal/periodic"
)

// FTS5 writes each transaction's index entries as a new segment and
// merges segments only a little at each write (its automerge), so an index
// written a row at a time keeps up to a dozen small segments beside its
// large ones, and every search term reads each of them (at 100,000
// containers images_fts had 20). The merger merges them off the request
// path: each tick it runs FTS5's 'merge' command (https://sqlite.org/
// fts5.html, "The 'merge' Command") in small steps on every search index
// until one reports nothing left, which with usermerge 2 (migration
// 0011_search_merge) leaves one segment per level. Steps go through the
// writer pool, so they queue with pushes instead of holding them off for a
// whole merge. docs/library-api.md, Search.

// mergeEvery is how often the merger looks for work. (A variable for
// tests.)
var mergeEvery = time.Second

const (
	// mergePages is one step's work, in pages (256 KiB): a few
	// milliseconds of the writer's time.
	mergePages = 64
	// mergeSteps bounds one tick's steps per index, so catching up after
	// a bulk load is spread over many seconds.
	mergeSteps = 16
)

// searchKinds are the kinds a search reads, each from its index.
var searchKinds = []searchKind{entitySearch, collectionSearch, containerSearch, imageSearch}

type ftsMerger struct {
	db   *sql.DB // the writer pool
	wal  *walHeader
	loop *periodic.Loop
	mu   sync.Mutex
	// idle is the database's version after a pass that found nothing to
	// merge: until it changes there is nothing new to merge.
	idle   walVersion
	idleOK bool
}

func newFTSMerger(db *sql.DB, wal *walHeader) *ftsMerger {
	m := &ftsMerger{db: db, wal: wal}
	// A failed step is tried again at the next tick: a merge interrupted
	// leaves a consistent index.
	m.loop = periodic.Run(mergeEvery, func() { _, _ = m.pass(context.Background()) })
	return m
}

// pass runs up to mergeSteps steps on each index and reports whether any
// merged something.
func (m *ftsMerger) pass(ctx context.Context) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.wal.version(); ok && m.idleOK && v == m.idle {
		return false, nil
	}
	worked := false
	for _, k := range searchKinds {
		for range mergeSteps {
			did, err := m.step(ctx, k.fts())
			if err != nil {
				return worked, err
			}
			if !did {
				break
			}
			worked = true
		}
	}
	if !worked {
		m.idle, m.idleOK = m.wal.version()
	}
	return worked, nil
}

// step runs one merge step on table and reports whether it merged
// anything: the command changes one row itself and a row per page it
// writes (FTS5 says to compare sqlite3_total_changes).
func (m *ftsMerger) step(ctx context.Context, table string) (bool, error) {
	conn, err := m.db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	var before, after int64
	if err := conn.QueryRowContext(ctx, `SELECT total_changes()`).Scan(&before); err != nil {
		return false, err
	}
	if _, err := conn.ExecContext(ctx, `INSERT INTO `+table+`(`+table+`, rank) VALUES ('merge', ?)`, mergePages); err != nil {
		return false, err
	}
	if err := conn.QueryRowContext(ctx, `SELECT total_changes()`).Scan(&after); err != nil {
		return false, err
	}
	return after-before > 1, nil
}

func (m *ftsMerger) stop() { m.loop.Stop() }
