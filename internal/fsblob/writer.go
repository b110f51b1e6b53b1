package fsblob

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/blob"
)

var errDone = errors.New("fsblob: writer already closed, committed or cancelled")

// writer is one open session. Like an io.Writer it is used by one goroutine.
type writer struct {
	s    *Store
	id   string
	base string // path prefix of the session's files
	// hasState: a state file exists (the session was closed before).
	hasState bool
	alg      digest.Algorithm
	sink     *sink
	done     bool
	// accepted counts bytes taken by Write; sink.n lags behind it while
	// chunks are in flight.
	accepted int64
	saved    []byte // the state written by Close
}

var _ blob.Writer = (*writer)(nil)

func newWriter(s *Store, id, base string, alg digest.Algorithm, f *os.File, h hash.Hash, offset int64, hasState bool) *writer {
	sk := newSink(f, h, offset)
	return &writer{s: s, id: id, base: base, hasState: hasState, alg: alg, sink: sk, accepted: offset}
}

func (w *writer) ID() string { return w.id }

// Size counts every byte accepted so far.
func (w *writer) Size() int64 { return w.accepted }

func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, errDone
	}
	n, err := w.sink.Write(p)
	w.accepted += int64(n)
	if err != nil {
		return n, apperr.Wrap(apperr.Internal, err, "blob store: write upload %s", w.id)
	}
	return n, nil
}

// flush waits until every byte written so far is on disk and hashed.
func (w *writer) flush() error {
	return w.sink.wait()
}

// saveState records the hash of everything flushed so far.
func (w *writer) saveState() error {
	m, ok := w.sink.h.(encoding.BinaryMarshaler)
	if !ok {
		return fmt.Errorf("%s hash state cannot be saved", w.alg)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	w.saved, err = writeState(w.base, state{Algorithm: w.alg, Offset: w.sink.n, Hash: b})
	return err
}

// State is the state Close saved (also in the session's state file).
func (w *writer) State() []byte { return w.saved }

// Close flushes and saves the state. If the flush fails the state still
// covers what reached the file, so the session stays consistent.
func (w *writer) Close() error {
	if w.done {
		return errDone
	}
	w.done = true
	err := w.flush()
	w.sink.stop()
	// After a failed flush some accepted bytes never reached the file:
	// from now on Size is what the session holds, where it resumes.
	w.accepted = w.sink.n
	err = errors.Join(err, w.saveState(), w.sink.f.Close())
	if err != nil {
		return apperr.Wrap(apperr.Internal, err, "blob store: close upload %s", w.id)
	}
	return nil
}

// Cancel discards the session.
func (w *writer) Cancel(ctx context.Context) error {
	if w.done {
		return errDone
	}
	w.done = true
	w.sink.stop()
	w.sink.f.Close()
	if _, err := removeSession(w.base); err != nil {
		return apperr.Wrap(apperr.Internal, err, "blob store: cancel upload %s", w.id)
	}
	return nil
}

// Commit verifies the session against expected and size, then publishes
// it. A malformed digest is a caller error, not a bad upload: the session
// is kept (as by Close) so a multi-gigabyte upload survives a typo. Any
// other failure removes the session.
func (w *writer) Commit(ctx context.Context, expected digest.Digest, size int64) (blob.Info, error) {
	if w.done {
		return blob.Info{}, errDone
	}
	if err := checkDigest(expected); err != nil {
		if cerr := w.Close(); cerr != nil {
			return blob.Info{}, errors.Join(err, cerr)
		}
		return blob.Info{}, err
	}
	w.done = true
	info, err := w.commit(ctx, expected, size)
	if err != nil {
		w.sink.f.Close()
		removeSession(w.base)
		return blob.Info{}, err
	}
	return info, nil
}

func (w *writer) commit(ctx context.Context, expected digest.Digest, size int64) (blob.Info, error) {
	err := w.flush()
	w.sink.stop()
	w.accepted = w.sink.n
	if err != nil {
		return blob.Info{}, apperr.Wrap(apperr.Internal, err, "blob store: flush upload %s", w.id)
	}
	if size >= 0 && w.sink.n != size {
		return blob.Info{}, apperr.New(apperr.Invalid, "size mismatch: got %d bytes, expected %d", w.sink.n, size)
	}
	got, err := w.digest(ctx, expected.Algorithm())
	if err != nil {
		return blob.Info{}, apperr.Wrap(apperr.Internal, err, "blob store: hash upload %s", w.id)
	}
	if got != expected {
		return blob.Info{}, apperr.New(apperr.Invalid, "digest mismatch: content is %s", got)
	}
	// Data must be on disk before the rename makes it visible, or a crash
	// could publish a name whose content was never written.
	if err := w.sink.f.Sync(); err != nil {
		return blob.Info{}, apperr.Wrap(apperr.Internal, err, "blob store: sync upload %s", w.id)
	}
	if err := w.sink.f.Close(); err != nil {
		return blob.Info{}, apperr.Wrap(apperr.Internal, err, "blob store: close upload %s", w.id)
	}
	return w.publish(expected)
}

// digest returns the content's digest in alg, re-reading the data file
// when the client verifies with another algorithm than the session's.
func (w *writer) digest(ctx context.Context, alg digest.Algorithm) (digest.Digest, error) {
	if alg == w.alg {
		return digest.NewDigest(alg, w.sink.h), nil
	}
	h := alg.Hash()
	if _, err := hashFile(ctx, w.base+dataSuffix, h); err != nil {
		return "", err
	}
	return digest.NewDigest(alg, h), nil
}

// publish moves the verified data to its digest path. When the blob
// already exists ours is dropped: content addressing makes both identical.
// Two commits racing past the existence check both rename; the second
// replaces the first with identical bytes, and readers holding the first
// file keep reading it, so that race is harmless.
func (w *writer) publish(d digest.Digest) (blob.Info, error) {
	target, _ := w.s.blobPath(d) // d was validated by Commit
	shard := filepath.Dir(target)
	if err := w.s.mkShard(shard); err != nil {
		return blob.Info{}, apperr.Wrap(apperr.Internal, err, "blob store: create %s", shard)
	}
	if _, err := os.Lstat(target); err == nil {
		// Refresh the mtime so a GC grace period counts from this upload,
		// not from the first one.
		now := time.Now()
		os.Chtimes(target, now, now)
	} else {
		if err := os.Rename(w.base+dataSuffix, target); err != nil {
			return blob.Info{}, apperr.Wrap(apperr.Internal, err, "blob store: publish %s", d)
		}
		if err := syncDir(shard); err != nil {
			return blob.Info{}, apperr.Wrap(apperr.Internal, err, "blob store: sync %s", shard)
		}
	}
	if w.hasState {
		removeSession(w.base)
	} else {
		os.Remove(w.base + dataSuffix) // left when the blob already existed
	}
	fi, err := os.Stat(target)
	if err != nil {
		return blob.Info{}, notFoundOr(err, d, "stat")
	}
	return blob.Info{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// mkShard creates blobs/<alg>/<xx> and makes new directory entries durable.
func (s *Store) mkShard(shard string) error {
	if _, err := os.Stat(shard); err == nil {
		return nil
	}
	algDir := filepath.Dir(shard)
	if err := os.MkdirAll(shard, dirPerm); err != nil {
		return err
	}
	if err := syncDir(algDir); err != nil {
		return err
	}
	return syncDir(s.blobs)
}
