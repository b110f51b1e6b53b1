package sqlmeta

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

// The blob rows of the garbage collector's protocol (docs/gc.md). Row
// locks are taken in one order everywhere, a blob's row before its links,
// so concurrent pushes and the collector wait for each other instead of
// deadlocking.

// collectorLockKey is the PostgreSQL advisory lock one collector holds.
const collectorLockKey = 7305322

// PutBlob records a committed blob, or touches its row: it fails with
// NotFound when the collector removed the blob (its row is a tombstone:
// only a new upload brings it back) and Unavailable while it removes it.
func (s *Store) PutBlob(ctx context.Context, digest string, size int64) error {
	at := toDB(now())
	res, err := s.exec(ctx, "blob", `INSERT INTO blobs (digest, size, created_at, state, touched_at) VALUES (?, ?, ?, 'live', ?)
		ON CONFLICT (digest) DO UPDATE SET touched_at = excluded.touched_at,
			size = CASE WHEN blobs.size = 0 THEN excluded.size ELSE blobs.size END
		WHERE blobs.state = 'live'`, digest, size, at, at)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	return s.notLive(ctx, digest)
}

// notLive explains why a blob row could not be used.
func (s *Store) notLive(ctx context.Context, digest string) error {
	var state string
	err := s.queryRow(ctx, `SELECT state FROM blobs WHERE digest = ?`, digest).Scan(&state)
	switch {
	case errors.Is(err, sql.ErrNoRows) || state == meta.BlobGone:
		return apperr.E(apperr.NotFound, apperr.Blob, "blob unknown: it was garbage collected")
	case err != nil:
		return mapErr(err, "blob")
	}
	return apperr.E(apperr.Unavailable, apperr.Blob, "the blob is being garbage collected; retry in a moment")
}

// TouchRepositoryBlob is GetRepositoryBlob for a request about to
// reference the blob (a manifest naming it): blob row and link are
// touched, so the collector, which only takes what stayed untouched, waits
// for this transaction and then leaves both alone.
func (s *Store) TouchRepositoryBlob(ctx context.Context, repoID, digest string) (meta.BlobRecord, error) {
	at := toDB(now())
	if err := s.execOne(ctx, "blob", `UPDATE blobs SET touched_at = ? WHERE digest = ? AND state = 'live'`, at, digest); err != nil {
		return meta.BlobRecord{}, err
	}
	if err := s.execOne(ctx, "blob", `UPDATE repository_blobs SET created_at = ? WHERE repository_id = ? AND digest = ?`,
		at, repoID, digest); err != nil {
		return meta.BlobRecord{}, err
	}
	return s.GetRepositoryBlob(ctx, repoID, digest)
}

// PinBlob implements meta.BlobPins.
func (s *Store) PinBlob(ctx context.Context, digest string) (int64, error) {
	var gen int64
	err := s.InTx(ctx, func(tx meta.Store) error {
		at := toDB(now())
		err := tx.(*Store).writeRow(ctx, `INSERT INTO blobs (digest, size, created_at, state, touched_at) VALUES (?, 0, ?, 'live', ?)
			ON CONFLICT (digest) DO UPDATE SET touched_at = excluded.touched_at, state = 'live',
				created_at = CASE WHEN blobs.state = 'live' THEN blobs.created_at ELSE excluded.created_at END
			WHERE blobs.state <> 'deleting' RETURNING created_at`, digest, at, at).Scan(&gen)
		if errors.Is(err, sql.ErrNoRows) {
			return errBeingDeleted
		}
		return mapErr(err, "blob")
	})
	if !errors.Is(err, errBeingDeleted) {
		return gen, err
	}
	// Claimed by a collector: if none runs, it died, and the claim is
	// taken over (the caller writes the bytes after this).
	err = s.ifNoCollector(ctx, func(tx *Store) error {
		at := toDB(now())
		err := tx.writeRow(ctx, `UPDATE blobs SET state = 'live', created_at = ?, touched_at = ?
			WHERE digest = ? AND state = 'deleting' RETURNING created_at`, at, at, digest).Scan(&gen)
		if errors.Is(err, sql.ErrNoRows) {
			return meta.ErrLostRace // changed meanwhile: pin again
		}
		return mapErr(err, "blob")
	})
	if errors.Is(err, meta.ErrLostRace) || errors.Is(err, errCollectorRuns) {
		return 0, apperr.E(apperr.Unavailable, apperr.Blob, "the blob is being garbage collected; retry in a moment")
	}
	return gen, err
}

var (
	errBeingDeleted  = errors.New("blob being deleted")
	errCollectorRuns = errors.New("a collector runs")
)

// ConfirmBlob implements meta.BlobPins.
func (s *Store) ConfirmBlob(ctx context.Context, digest string, size, gen int64) error {
	res, err := s.exec(ctx, "blob", `UPDATE blobs SET size = ?, touched_at = ? WHERE digest = ? AND state = 'live' AND created_at = ?`,
		size, toDB(now()), digest, gen)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return apperr.E(apperr.Unavailable, apperr.Blob, "the blob was garbage collected during the upload; retry it")
	}
	return nil
}

// collectable is the condition on a blobs row (named blobs) that the
// collector may take it; its two parameters are the cutoff.
const collectable = `blobs.state = 'live' AND blobs.touched_at < ?
	AND NOT EXISTS (SELECT 1 FROM images i WHERE i.digest = blobs.digest AND i.uploaded = TRUE)
	AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.ref_digest = blobs.digest)
	AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = blobs.digest AND rb.created_at >= ?)`

func (s *Store) ListCollectable(ctx context.Context, before time.Time, after string, limit int) ([]meta.BlobRecord, error) {
	cut := toDB(before)
	return queryAll(ctx, s, "blobs", scanBlob, `SELECT digest, size, created_at FROM blobs
		WHERE `+s.byteOrder("digest")+` > ? AND `+collectable+` ORDER BY `+s.byteOrder("digest")+` LIMIT ?`,
		after, cut, cut, limitOf(limit))
}

// MarkBlobDeleting claims a blob in a transaction that first locks its
// row, then checks, in a statement of its own, that nothing refers to it.
// On PostgreSQL the lock waits for any transaction that touched the row
// (a push referencing the blob) to end, and the check's fresh snapshot
// then sees what it committed: a single UPDATE would re-check only the
// row itself after the wait, not the references (READ COMMITTED).
func (s *Store) MarkBlobDeleting(ctx context.Context, digest string, before time.Time) (bool, error) {
	cut := toDB(before)
	claimed := false
	err := s.InTx(ctx, func(tx meta.Store) error {
		t := tx.(*Store)
		if err := t.lockRow(ctx, `SELECT 1 FROM blobs WHERE digest = ? FOR UPDATE`, digest); err != nil {
			return err
		}
		res, err := t.exec(ctx, "blob", `UPDATE blobs SET state = 'deleting' WHERE digest = ? AND `+collectable, digest, cut, cut)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		claimed = n == 1
		return mapErr(err, "blob")
	})
	return claimed, err
}

// lockRow runs a SELECT ... FOR UPDATE on PostgreSQL (SQLite runs one
// write transaction at a time: there is nothing to wait for). A missing
// row is not an error: the statement that follows finds nothing either.
func (s *Store) lockRow(ctx context.Context, q string, args ...any) error {
	if !s.postgres {
		return nil
	}
	var one int
	err := s.writeRow(ctx, q, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	return mapErr(err, "lock")
}

func (s *Store) MarkBlobGone(ctx context.Context, digest string) error {
	return s.InTx(ctx, func(tx meta.Store) error {
		t := tx.(*Store)
		if err := t.execOne(ctx, "blob", `UPDATE blobs SET state = 'gone' WHERE digest = ? AND state = 'deleting'`, digest); err != nil {
			return err
		}
		if _, err := t.exec(ctx, "blob links", `DELETE FROM repository_blobs WHERE digest = ?`, digest); err != nil {
			return err
		}
		_, err := t.exec(ctx, "inspection", `DELETE FROM sif_inspections WHERE digest = ?`, digest)
		return err
	})
}

func (s *Store) ListDeletingBlobs(ctx context.Context) ([]meta.BlobRecord, error) {
	return queryAll(ctx, s, "blobs", scanBlob, `SELECT digest, size, created_at FROM blobs WHERE state = 'deleting' ORDER BY digest`)
}

func (s *Store) PurgeTombstones(ctx context.Context, before time.Time) (int, error) {
	res, err := s.exec(ctx, "blobs", `DELETE FROM blobs WHERE state = 'gone' AND touched_at < ?`, toDB(before))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), mapErr(err, "blobs")
}

// statesBatch is the number of digests one BlobStates query asks about:
// shorter lists are padded, so the statement has one shape.
const statesBatch = 500

var statesQuery = `SELECT digest, state FROM blobs WHERE digest IN (?` + strings.Repeat(", ?", statesBatch-1) + `)`

func (s *Store) BlobStates(ctx context.Context, digests []string) (map[string]string, error) {
	out := map[string]string{}
	for len(digests) > 0 {
		n := min(len(digests), statesBatch)
		args := make([]any, statesBatch)
		for i := range args {
			args[i] = digests[min(i, n-1)]
		}
		type row struct{ d, st string }
		rows, err := queryAll(ctx, s, "blobs", func(r scanner) (row, error) {
			var x row
			return x, r.Scan(&x.d, &x.st)
		}, statesQuery, args...)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r.d] = r.st
		}
		digests = digests[n:]
	}
	return out, nil
}

func (s *Store) ClaimOrphan(ctx context.Context, digest string, size int64) (bool, error) {
	at := toDB(now())
	res, err := s.exec(ctx, "blob", `INSERT INTO blobs (digest, size, created_at, state, touched_at) VALUES (?, ?, ?, 'deleting', ?)
		ON CONFLICT (digest) DO UPDATE SET state = 'deleting', size = excluded.size WHERE blobs.state = 'gone'`, digest, size, at, at)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, mapErr(err, "blob")
}

// staleLink is the condition that a link (its row named rb) no longer
// serves anything in its repository; its parameter is the cutoff. A
// DELETE states it on its target row itself, so that PostgreSQL re-checks
// the row's time after waiting for a transaction that touched it.
func staleLink(rb string) string {
	return strings.ReplaceAll(`rb.created_at < ?
	AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.repository_id = rb.repository_id AND r.ref_digest = rb.digest)
	AND NOT EXISTS (SELECT 1 FROM repositories p JOIN images i ON i.container_id = p.container_id
		WHERE p.id = rb.repository_id AND i.digest = rb.digest AND i.uploaded = TRUE)`, "rb.", rb+".")
}

func (s *Store) StaleLinks(ctx context.Context, before time.Time, after meta.Link, limit int) ([]meta.Link, error) {
	return queryAll(ctx, s, "links", func(r scanner) (meta.Link, error) {
		var l meta.Link
		return l, r.Scan(&l.RepositoryID, &l.Digest, &l.Size)
	}, `SELECT rb.repository_id, rb.digest, COALESCE(b.size, 0) FROM repository_blobs rb LEFT JOIN blobs b ON b.digest = rb.digest
		WHERE (`+s.byteOrder("rb.repository_id")+` > ? OR (rb.repository_id = ? AND `+s.byteOrder("rb.digest")+` > ?)) AND `+staleLink("rb")+`
		ORDER BY `+s.byteOrder("rb.repository_id")+`, `+s.byteOrder("rb.digest")+` LIMIT ?`,
		after.RepositoryID, after.RepositoryID, after.Digest, toDB(before), limitOf(limit))
}

// DropStaleLink locks the link, then deletes it if still stale, for the
// reason MarkBlobDeleting does.
func (s *Store) DropStaleLink(ctx context.Context, l meta.Link, before time.Time) (bool, error) {
	dropped := false
	err := s.InTx(ctx, func(tx meta.Store) error {
		t := tx.(*Store)
		if err := t.lockRow(ctx, `SELECT 1 FROM repository_blobs WHERE repository_id = ? AND digest = ? FOR UPDATE`,
			l.RepositoryID, l.Digest); err != nil {
			return err
		}
		res, err := t.exec(ctx, "link", `DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ? AND `+
			staleLink("repository_blobs"), l.RepositoryID, l.Digest, toDB(before))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		dropped = n == 1
		return mapErr(err, "link")
	})
	return dropped, err
}

// LockCollector implements meta.BlobCollection: a session advisory lock
// on its own connection on PostgreSQL (the lock ends with the connection,
// so a replica that dies frees it), a file lock beside the database on
// SQLite (which also keeps `silo admin gc` and a running server apart).
func (s *Store) LockCollector(ctx context.Context) (func(), bool, error) {
	if !s.postgres {
		return lockFile(s.collectorLock, true)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, false, mapErr(err, "collector lock")
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, collectorLockKey).Scan(&ok); err != nil || !ok {
		conn.Close()
		return nil, false, mapErr(err, "collector lock")
	}
	return func() {
		_, _ = conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, collectorLockKey)
		conn.Close()
	}, true, nil
}

// ifNoCollector runs fn in a transaction while it holds a share of the
// collector's lock, so no collector can start or run meanwhile; it fails
// with errCollectorRuns when one runs.
func (s *Store) ifNoCollector(ctx context.Context, fn func(tx *Store) error) error {
	if !s.postgres {
		unlock, ok, err := lockFile(s.collectorLock, false)
		if err != nil {
			return err
		}
		if !ok {
			return errCollectorRuns
		}
		defer unlock()
	}
	return s.InTx(ctx, func(tx meta.Store) error {
		t := tx.(*Store)
		if t.postgres {
			var free bool
			if err := t.q.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock_shared($1)`, collectorLockKey).Scan(&free); err != nil {
				return mapErr(err, "collector lock")
			}
			if !free {
				return errCollectorRuns
			}
		}
		return fn(t)
	})
}
