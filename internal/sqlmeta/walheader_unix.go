//go:build unix

package sqlmeta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// walHeader reads the WAL-index header at the start of a SQLite
// database's "-shm" file, which every commit rewrites: SQLite's file
// format documents it (https://sqlite.org/walformat.html, "The WAL-Index
// Header"): two copies of a 48-byte header, the second written first, so
// a reader that finds them equal read a whole one. Each commit, from any
// connection of any process, increments its change counter and moves its
// last frame; restarting the WAL changes its salt. Reading it costs a few
// loads from memory, where a read transaction costs a lock call on the
// same file (SQLite's own start of a read does this comparison).
//
// The file stays mapped for the Store's life. Two rules keep that sound:
// conn, a connection held open, keeps SQLite from deleting or truncating
// the file (it does so only when the last connection of every process
// closes, or when a new first one finds none), and fd is closed only after
// every pool: closing any descriptor of a file drops every POSIX lock this
// process holds on it, SQLite's included.
type walHeader struct {
	conn *sql.Conn
	db   *sql.DB
	fd   int
	mem  []byte
}

// walIndexVersion is the header's iVersion (WALINDEX_MAX_VERSION): a
// header in another layout is not read at all.
const walIndexVersion = 3007000

// openWALHeader maps path's WAL-index header, opening a connection of
// its own through dsn (read-only, in WAL mode) to hold the file open. The
// walHeader it returns, even with an error (then it reports no version,
// and nothing is cached), must be closed after the Store's pools.
func openWALHeader(ctx context.Context, dsn, path string) (*walHeader, error) {
	pools, err := openPools(poolSpec{dsn, 1})
	if err != nil {
		return nil, err
	}
	w := &walHeader{db: pools[0], fd: -1}
	fail := func(err error) (*walHeader, error) {
		if w.mem != nil {
			unix.Munmap(w.mem)
			w.mem = nil
		}
		return w, fmt.Errorf("mapping the WAL index of %s: %w", path, err)
	}
	if w.conn, err = w.db.Conn(ctx); err != nil {
		return fail(err)
	}
	// A read maps the WAL index in this connection, creating the file if
	// this is its first.
	var n int
	if err := w.conn.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master`).Scan(&n); err != nil {
		return fail(err)
	}
	if w.fd, err = unix.Open(path+"-shm", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		return fail(err)
	}
	if w.mem, err = unix.Mmap(w.fd, 0, 96, unix.PROT_READ, unix.MAP_SHARED); err != nil {
		return fail(err)
	}
	if _, ok := w.version(); !ok {
		return fail(errors.New("no WAL-index header of a known version"))
	}
	return w, nil
}

// version returns the header, or false while a commit is rewriting it (or
// when it is not one this code knows).
func (w *walHeader) version() (walVersion, bool) {
	if w == nil || w.mem == nil {
		return walVersion{}, false
	}
	var a, b walVersion
	for i := range a {
		a[i] = atomic.LoadUint32((*uint32)(unsafe.Pointer(&w.mem[4*i])))
	}
	for i := range b {
		b[i] = atomic.LoadUint32((*uint32)(unsafe.Pointer(&w.mem[48+4*i])))
	}
	return a, a == b && a[0] == walIndexVersion
}

// close unmaps the header and closes its connection and descriptor; the
// Store calls it after closing its pools (see walHeader).
func (w *walHeader) close() error {
	var err error
	if w.mem != nil {
		err = unix.Munmap(w.mem)
		w.mem = nil
	}
	if w.conn != nil {
		err = errors.Join(err, w.conn.Close())
	}
	err = errors.Join(err, w.db.Close())
	if w.fd >= 0 {
		err = errors.Join(err, unix.Close(w.fd))
		w.fd = -1
	}
	return err
}
