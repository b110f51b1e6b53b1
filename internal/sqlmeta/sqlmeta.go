// Package sqlmeta implements meta.Store on SQLite (modernc.org/sqlite, pure
// Go) and PostgreSQL (pgx). Both run the same SQL: queries are written with
// "?" placeholders and rebound to "$n" for PostgreSQL, and the schema avoids
// dialect-specific types.
package sqlmeta

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/logctx"
	"github.com/silo-hpc/silo/internal/meta"
)

//go:embed migrations/*.sql
var migrations embed.FS

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Store implements meta.Store. A Store made by InTx or ReadTx is bound to
// its transaction.
//
// On SQLite there are two pools: writes go through one connection (so
// writers queue in Go, in order, instead of polling SQLite's busy lock),
// reads through a pool of read-only connections that WAL lets run beside
// the writer. On PostgreSQL both are the same pool.
type Store struct {
	db       *sql.DB // writes and read-write transactions
	rd       *sql.DB // reads outside a read-write transaction
	q        querier // the transaction, when bound to one
	tx       *sql.Tx // the same transaction
	postgres bool
	inTx     bool // bound to a read-write transaction
	readOnly bool // bound to a read-only transaction
	// Prepared statements of each pool, by query text: parsing a query
	// cost modernc's SQLite more than running it (a fifth of a manifest
	// GET), so each is parsed once per connection.
	wstmts, rstmts *stmtCache
	// SQLite's searches read through their own pool (OpenSQLite), nil
	// on PostgreSQL.
	srch        *sql.DB
	sstmts      *stmtCache
	checkpoints *checkpointer // SQLite only
	merger      *ftsMerger    // SQLite only
	// collectorLock is the file whose lock lets one garbage collector run
	// at a time (SQLite only; PostgreSQL has an advisory lock).
	collectorLock string
	// The read cache (readcache.go), SQLite only, outside transactions:
	// the WAL-index header that says whether the database changed, and
	// the reads kept while it has not.
	wal          *walHeader
	tokensByHash *readCache[string, tokenUser]
	tokensByID   *readCache[string, tokenUser]
	usersByID    *readCache[string, meta.User]
	manifests    *readCache[manifestKey, meta.ManifestLookup]
}

var _ meta.Store = (*Store)(nil)

// OpenSQLite opens (creating if needed) a SQLite database file and migrates it.
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	// WAL lets readers run beside the writer. The writer pool has one
	// connection: SQLite runs one write transaction at a time anyway, and
	// queueing for the connection in Go is fair and immediate where
	// SQLite's busy handler sleeps and retries. Immediate transactions
	// take the write lock up front (no failing lock upgrade).
	base := "file:" + uriPath.Replace(path) + "?_pragma=busy_timeout(" + strconv.FormatInt(busyTimeout.Milliseconds(), 10) + ")&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	pools, err := openPools(
		// The writer never checkpoints: a checkpoint run inside a commit
		// (SQLite's default, every 1000 pages) copies the WAL into the
		// database and syncs it while every other writer waits. A
		// background goroutine checkpoints instead (checkpointer), on
		// its own connection.
		poolSpec{base + "&_txlock=immediate&_pragma=wal_autocheckpoint(0)", 1},
		poolSpec{base + "&_pragma=query_only(1)", readConns},
		// Searches read many index pages: through a memory map (up to
		// SQLite's own 2 GiB cap) rather than a read call per page not
		// in the small page cache, most took 20-46% less time
		// (docs/library-api.md, Performance). Only their own pool maps
		// the file: a connection with a map remaps it in every read
		// transaction after a write, which cost concurrent pushes 16% of
		// their CPU while every read connection did it.
		poolSpec{base + "&_pragma=query_only(1)&_pragma=mmap_size(2147418112)", searchConns()},
		poolSpec{base, 1},
	)
	if err != nil {
		return nil, err
	}
	s, err := open(ctx, pools[0], pools[1], false)
	if err != nil {
		pools[1].Close()
		pools[2].Close()
		pools[3].Close()
		return nil, err
	}
	s.srch, s.sstmts = pools[2], &stmtCache{}
	s.collectorLock = path + "-gc.lock"
	s.checkpoints = newCheckpointer(pools[3])
	s.wal, err = openWALHeader(ctx, base+"&_pragma=query_only(1)", path)
	if err != nil {
		logctx.From(ctx).WarnContext(ctx, "reads are not cached", "err", err)
	}
	s.merger = newFTSMerger(s.db, s.wal)
	s.tokensByHash, s.tokensByID = &readCache[string, tokenUser]{}, &readCache[string, tokenUser]{}
	s.usersByID = &readCache[string, meta.User]{}
	s.manifests = &readCache[manifestKey, meta.ManifestLookup]{cost: func(l meta.ManifestLookup) int { return len(l.Manifest.Content) }}
	return s, nil
}

// busyTimeout is how long a SQLite connection waits for a lock another
// holds before it reports the database busy.
const busyTimeout = 10 * time.Second

// poolSpec is a pool of SQLite connections: its DSN and size.
type poolSpec struct {
	dsn   string
	conns int
}

// openPools opens the pools, or none.
func openPools(specs ...poolSpec) ([]*sql.DB, error) {
	var pools []*sql.DB
	for _, p := range specs {
		db, err := sql.Open("sqlite", p.dsn)
		if err != nil {
			for _, o := range pools {
				o.Close()
			}
			return nil, err
		}
		db.SetMaxOpenConns(p.conns)
		db.SetMaxIdleConns(p.conns)
		pools = append(pools, db)
	}
	return pools, nil
}

// readConns bounds SQLite's read pool: reads are CPU-bound in the driver,
// so more connections than a few per core only add memory.
const readConns = 16

// searchConns sizes SQLite's search pool: four at least, since a search
// runs its four kinds side by side, and two per core (searches are
// CPU-bound). No more: each connection maps the file and keeps a page
// cache of its own, so its first search of a kind pays again for every
// page it reads (100–300 ms at a million containers, then 10–30 ms); with
// eight connections on two cores those first searches were still showing
// in the p99 after a hundred requests (bench/search).
func searchConns() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

// uriPath escapes what SQLite's URI filenames give a meaning to: without
// it a data directory named "a?b" silently opened the database "a".
var uriPath = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// OpenPostgres connects to PostgreSQL and migrates the database.
func OpenPostgres(ctx context.Context, dsn string) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	return open(ctx, db, db, true)
}

func open(ctx context.Context, db, rd *sql.DB, postgres bool) (*Store, error) {
	s := &Store{db: db, rd: rd, postgres: postgres, wstmts: &stmtCache{}, rstmts: &stmtCache{}}
	if rd == db {
		s.rstmts = s.wstmts
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to database: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating database: %w", err)
	}
	return s, nil
}

// migrate applies embedded migrations not yet recorded, each in its own
// transaction. On PostgreSQL an advisory lock keeps replicas that start
// together from racing.
func (s *Store) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	return s.migrateFiles(ctx, names)
}

// migrateFiles applies the named migrations that are for this dialect:
// NNNN_x.sql is for both, NNNN_x.sqlite.sql and NNNN_x.postgres.sql for
// one (where the DDL must differ, as for search indexes).
func (s *Store) migrateFiles(ctx context.Context, names []string) error {
	other := ".postgres.sql"
	if s.postgres {
		other = ".sqlite.sql"
	}
	return s.InTx(ctx, func(tx meta.Store) error {
		t := tx.(*Store)
		if t.postgres {
			if _, err := t.q.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7305321)"); err != nil {
				return err
			}
		}
		if _, err := t.q.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY)`); err != nil {
			return err
		}
		var pending []string
		for _, name := range names {
			var n int
			if strings.HasSuffix(name, other) {
				continue
			}
			if err := t.q.QueryRowContext(ctx, t.rebind(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), name).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				pending = append(pending, name)
			}
		}
		if len(pending) > 0 {
			// A migration may rewrite what exists (0010 re-reads every
			// label): on a large library the server is not ready for
			// seconds, and says why.
			logctx.From(ctx).InfoContext(ctx, "migrating the database", "migrations", len(pending),
				"from", path.Base(pending[0]), "to", path.Base(pending[len(pending)-1]))
		}
		for _, name := range pending {
			if err := t.applyMigration(ctx, name); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		return nil
	})
}

// applyMigration runs one migration and records it. One that takes long
// is logged when done.
func (s *Store) applyMigration(ctx context.Context, name string) error {
	b, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	bytesType := "BLOB"
	if s.postgres {
		bytesType = "BYTEA"
	}
	text := stripComments(strings.ReplaceAll(string(b), "{{BYTES}}", bytesType))
	start := time.Now()
	for _, stmt := range splitStatements(text) {
		if _, err := s.q.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	_, err = s.q.ExecContext(ctx, s.rebind(`INSERT INTO schema_migrations (version) VALUES (?)`), name)
	if took := time.Since(start); err == nil && took > time.Second {
		logctx.From(ctx).InfoContext(ctx, "applied a database migration", "migration", path.Base(name), "took", took.Round(time.Millisecond))
	}
	return err
}

// splitStatements splits a migration at semicolons, except inside a
// CREATE TRIGGER ... BEGIN ... END (SQLite) or a $$-quoted function body
// (PostgreSQL), which hold statements of their own.
func splitStatements(text string) []string {
	var out []string
	cur := ""
	for _, part := range strings.Split(text, ";") {
		cur += part
		head := strings.ToUpper(strings.TrimSpace(cur))
		sqliteTrigger := strings.HasPrefix(head, "CREATE TRIGGER") && strings.Contains(head, "BEGIN")
		if sqliteTrigger && !strings.HasSuffix(head, "END") || strings.Count(cur, "$$")%2 == 1 {
			cur += ";"
			continue
		}
		if strings.TrimSpace(cur) != "" {
			out = append(out, cur)
		}
		cur = ""
	}
	if strings.TrimSpace(cur) != "" { // an unfinished trigger: let it fail
		out = append(out, cur)
	}
	return out
}

func stripComments(stmt string) string {
	var b strings.Builder
	for _, line := range strings.Split(stmt, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// InTx implements meta.Store. A transaction that lost a race (a unique
// violation from a concurrent get-or-create, a serialization failure, a
// deadlock, or fn's own meta.ErrLostRace) is run again: fn sees the
// winner's rows the second time. Only PostgreSQL loses such races; SQLite
// runs write transactions one at a time.
func (s *Store) InTx(ctx context.Context, fn func(tx meta.Store) error) error {
	if s.inTx {
		return fn(s)
	}
	if s.readOnly {
		return apperr.New(apperr.Internal, "read-write transaction inside a read-only one")
	}
	for attempt := 1; ; attempt++ {
		err := s.inTxOnce(ctx, s.db, nil, fn)
		if attempt == maxTxAttempts || !lostRace(err) {
			return err
		}
	}
}

// ReadTx implements meta.Store: one snapshot from the read pool. Inside a
// read-write transaction it joins that transaction (which sees its own
// writes).
func (s *Store) ReadTx(ctx context.Context, fn func(tx meta.Store) error) error {
	if s.inTx || s.readOnly {
		return fn(s)
	}
	return s.inTxOnce(ctx, s.rd, &sql.TxOptions{ReadOnly: true}, fn)
}

// maxTxAttempts bounds how often a transaction that lost a race is rerun.
const maxTxAttempts = 4

// lostRace reports errors that a rerun of the transaction can cure:
// PostgreSQL's unique violation, serialization failure and deadlock, and
// meta.ErrLostRace.
func lostRace(err error) bool {
	if errors.Is(err, meta.ErrLostRace) {
		return true
	}
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "23505" || pg.Code == "40001" || pg.Code == "40P01")
}

func (s *Store) inTxOnce(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(tx meta.Store) error) (err error) {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return mapErr(err, "beginning transaction")
	}
	defer func() {
		if p := recover(); p != nil {
			tx.Rollback()
			panic(p)
		}
		if err != nil {
			tx.Rollback()
			return
		}
		err = mapErr(tx.Commit(), "committing transaction")
	}()
	return fn(&Store{db: s.db, rd: s.rd, q: tx, tx: tx, postgres: s.postgres, inTx: opts == nil, readOnly: opts != nil,
		wstmts: s.wstmts, rstmts: s.rstmts, collectorLock: s.collectorLock})
}

// Ping implements meta.Store.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close implements meta.Store.
func (s *Store) Close() error {
	s.wstmts.warmers.Wait()
	s.rstmts.warmers.Wait()
	var err error
	if s.merger != nil {
		s.merger.stop()
	}
	if s.checkpoints != nil {
		err = s.checkpoints.stop()
	}
	err = errors.Join(err, s.db.Close())
	if s.rd != s.db {
		err = errors.Join(err, s.rd.Close())
	}
	if s.srch != nil {
		s.sstmts.warmers.Wait()
		err = errors.Join(err, s.srch.Close())
	}
	if s.wal != nil {
		err = errors.Join(err, s.wal.close()) // after the pools (walHeader)
	}
	return err
}

// searcher is the Store a search reads through: outside a transaction,
// on SQLite, one whose reads go to the search pool.
// Pools names the store's connection pools, for their statistics
// (server metrics): "write" (every pool on PostgreSQL), and on SQLite
// "read" and "search".
func (s *Store) Pools() map[string]*sql.DB {
	pools := map[string]*sql.DB{"write": s.db}
	if s.rd != s.db {
		pools["read"] = s.rd
	}
	if s.srch != nil {
		pools["search"] = s.srch
	}
	return pools
}

func (s *Store) searcher() *Store {
	if s.srch == nil || s.tx != nil {
		return s
	}
	t := *s
	t.rd, t.rstmts = s.srch, s.sstmts
	return &t
}

// rebind turns "?" placeholders into PostgreSQL's "$n". A "?" inside a
// quoted literal is left alone. Queries are constant strings, so each is
// rewritten once and cached.
func (s *Store) rebind(q string) string {
	if !s.postgres {
		return q
	}
	if r, ok := rebound.Load(q); ok {
		return r.(string)
	}
	var b strings.Builder
	n, quoted := 0, false
	for _, r := range q {
		switch {
		case r == '\'':
			quoted = !quoted
		case r == '?' && !quoted:
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	rebound.Store(q, b.String())
	return b.String()
}

var rebound sync.Map // query text -> PostgreSQL form

// stmtCache holds one pool's prepared statements by query text.
type stmtCache struct {
	m       sync.Map // query -> *sql.Stmt
	warming sync.Map // query -> struct{}: being prepared in the background
	warmers sync.WaitGroup
}

func (c *stmtCache) get(ctx context.Context, db *sql.DB, q string) (*sql.Stmt, error) {
	if v, ok := c.m.Load(q); ok {
		return v.(*sql.Stmt), nil
	}
	st, err := db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if v, loaded := c.m.LoadOrStore(q, st); loaded {
		st.Close()
		return v.(*sql.Stmt), nil
	}
	return st, nil
}

// warm prepares q on the pool in the background. A transaction must not
// wait for a second connection of its pool: the write pool has one, and
// every read connection may be held by a transaction waiting the same way.
func (c *stmtCache) warm(db *sql.DB, q string) {
	if _, busy := c.warming.LoadOrStore(q, struct{}{}); busy {
		return
	}
	c.warmers.Add(1)
	go func() {
		defer c.warmers.Done()
		defer c.warming.Delete(q)
		_, _ = c.get(context.Background(), db, q)
	}()
}

// prepared returns q prepared where it runs: in the bound transaction, or
// on the pool (the write pool for a write, the read pool for a query).
// Inside a transaction a statement not yet cached is prepared on the
// transaction's own connection this once.
func (s *Store) prepared(ctx context.Context, write bool, q string) (*sql.Stmt, error) {
	q = s.rebind(q)
	cache, db := s.rstmts, s.rd
	if s.inTx || (write && !s.readOnly) {
		cache, db = s.wstmts, s.db
	}
	if s.tx == nil {
		return cache.get(ctx, db, q)
	}
	if v, ok := cache.m.Load(q); ok {
		return s.tx.StmtContext(ctx, v.(*sql.Stmt)), nil
	}
	cache.warm(db, q)
	return s.tx.PrepareContext(ctx, q)
}

func (s *Store) exec(ctx context.Context, what, q string, args ...any) (sql.Result, error) {
	st, err := s.prepared(ctx, true, q)
	if err != nil {
		return nil, mapErr(err, what)
	}
	res, err := st.ExecContext(ctx, args...)
	return res, mapErr(err, what)
}

// execOne runs a statement that must change exactly one row.
func (s *Store) execOne(ctx context.Context, what, q string, args ...any) error {
	res, err := s.exec(ctx, what, q, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return mapErr(err, what)
	}
	if n == 0 {
		return apperr.New(apperr.NotFound, "%s: not found", what)
	}
	return nil
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) scanner {
	st, err := s.prepared(ctx, false, q)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// writeRow runs a statement that writes and returns a row (RETURNING).
func (s *Store) writeRow(ctx context.Context, q string, args ...any) scanner {
	st, err := s.prepared(ctx, true, q)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// errRow is a row whose query could not be prepared.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// queryAll runs q and scans every row with scan.
func queryAll[T any](ctx context.Context, s *Store, what string, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	st, err := s.prepared(ctx, false, q)
	if err != nil {
		return nil, mapErr(err, what)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, mapErr(err, what)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, mapErr(err, what)
		}
		out = append(out, v)
	}
	return out, mapErr(rows.Err(), what)
}

// mapErr turns driver errors into apperr codes.
func mapErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return apperr.Wrap(apperr.NotFound, err, "%s: not found", what)
	case isUniqueViolation(err):
		return apperr.Wrap(apperr.Conflict, err, "%s: already exists", what)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return apperr.Wrap(apperr.Unavailable, err, "%s: interrupted", what)
	case unreachable(err):
		return apperr.Wrap(apperr.Unavailable, err, "database unavailable, retry later")
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	return apperr.Wrap(apperr.Internal, err, "%s", what)
}

// unreachable reports errors that mean the database cannot be reached
// right now (down, restarting, the connection cut): a client gets a 503
// and retries, and the pool reconnects once it is back.
func unreachable(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		// Class 08: connection exceptions; 57P0x: shutting down,
		// crashed, cannot connect now.
		return strings.HasPrefix(pg.Code, "08") || strings.HasPrefix(pg.Code, "57P0")
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, sql.ErrConnDone) ||
		pgconn.SafeToRetry(err) || strings.Contains(err.Error(), "conn closed")
}

func isUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed") ||
		strings.Contains(err.Error(), "PRIMARY KEY constraint failed")
}

// newID returns an opaque, URL-safe id (24 hex characters, like the
// ObjectIDs Sylabs clients are used to).
func newID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// Times are stored as Unix microseconds; 0 means unset.
func toDB(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromDB(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// now is the store's clock, truncated to what the database keeps.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
