package fsblob

import (
	"context"
	"crypto/rand"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/blob"
)

const (
	dataSuffix  = ".data"
	stateSuffix = ".state"
	idBytes     = 16
)

// state is what a session needs to continue in another process: the
// marshalled hash and how many bytes of the data file it has consumed.
type state struct {
	Algorithm digest.Algorithm `json:"algorithm"`
	Offset    int64            `json:"offset"`
	Hash      []byte           `json:"hash"`
}

func newID() (string, error) {
	b := make([]byte, idBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// uploadPath returns the path prefix of a session's files. Ids are ours
// (random hex), so anything else cannot name a session and must never
// reach the filesystem.
func (s *Store) uploadPath(id string) (string, error) {
	if len(id) != 2*idBytes || !isHex(id) {
		return "", apperr.New(apperr.NotFound, "upload unknown")
	}
	return filepath.Join(s.uploads, id), nil
}

func sessionErr(err error, id, op string) error {
	if errors.Is(err, fs.ErrNotExist) {
		return apperr.Wrap(apperr.NotFound, err, "upload unknown")
	}
	return apperr.Wrap(apperr.Internal, err, "blob store: %s upload %s", op, id)
}

// NewUpload starts a session hashing with alg (sha256 when empty).
func (s *Store) NewUpload(ctx context.Context, alg digest.Algorithm) (blob.Writer, error) {
	if alg == "" {
		alg = digest.SHA256
	}
	if !supported(alg) {
		return nil, apperr.New(apperr.Invalid, "unsupported digest algorithm %q", alg)
	}
	id, err := newID()
	if err != nil {
		return nil, apperr.Wrap(apperr.Internal, err, "blob store: new upload id")
	}
	base := filepath.Join(s.uploads, id)
	f, err := os.OpenFile(base+dataSuffix, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return nil, sessionErr(err, id, "create")
	}
	return newWriter(s, id, base, alg, f, alg.Hash(), 0, false), nil
}

// ResumeUpload reopens a session at the end of what its hash state covers:
// the state given (what the caller recorded with the session's offset), or
// the session's own state file when none is given.
// A process killed mid-write leaves the data file longer than the saved
// state (bytes the client was never told were stored): they are cut off.
// A data file shorter than the state (a crash lost unsynced data) is
// rehashed, since the saved hash covers bytes that no longer exist.
func (s *Store) ResumeUpload(ctx context.Context, id string, saved []byte) (blob.Writer, error) {
	base, err := s.uploadPath(id)
	if err != nil {
		return nil, err
	}
	// A session never closed has no state: it did not outlive its request
	// and cannot be resumed.
	var st state
	var h hash.Hash
	if len(saved) > 0 {
		if _, err := os.Stat(base + stateSuffix); err != nil {
			return nil, sessionErr(err, id, "resume")
		}
		st, h, err = decodeState(saved)
	} else {
		st, h, err = loadState(base)
	}
	if err != nil {
		return nil, sessionErr(err, id, "resume")
	}
	data := base + dataSuffix
	f, err := os.OpenFile(data, os.O_WRONLY, 0)
	if err != nil {
		return nil, sessionErr(err, id, "resume")
	}
	offset, err := reconcile(ctx, f, data, st, &h)
	if err == nil {
		_, err = f.Seek(offset, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, sessionErr(err, id, "resume")
	}
	return newWriter(s, id, base, st.Algorithm, f, h, offset, true), nil
}

// reconcile makes the data file and hash agree and returns the offset to
// continue at; *h is replaced when the data had to be rehashed.
func reconcile(ctx context.Context, f *os.File, data string, st state, h *hash.Hash) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	switch {
	case fi.Size() > st.Offset:
		return st.Offset, f.Truncate(st.Offset)
	case fi.Size() < st.Offset:
		*h = st.Algorithm.Hash()
		return hashFile(ctx, data, *h)
	}
	return st.Offset, nil
}

// hashFile feeds the file at path into h and returns how many bytes it read.
func hashFile(ctx context.Context, path string, h hash.Hash) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, bufSize)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, err := f.Read(buf)
		h.Write(buf[:m])
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func loadState(base string) (state, hash.Hash, error) {
	b, err := os.ReadFile(base + stateSuffix)
	if err != nil {
		return state{}, nil, err
	}
	return decodeState(b)
}

func decodeState(b []byte) (state, hash.Hash, error) {
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return st, nil, fmt.Errorf("decode upload state: %w", err)
	}
	if !supported(st.Algorithm) || st.Offset < 0 {
		return st, nil, fmt.Errorf("corrupt upload state (%q, offset %d)", st.Algorithm, st.Offset)
	}
	h := st.Algorithm.Hash()
	u, ok := h.(encoding.BinaryUnmarshaler)
	if !ok {
		return st, nil, fmt.Errorf("%s hash state cannot be restored", st.Algorithm)
	}
	if err := u.UnmarshalBinary(st.Hash); err != nil {
		return st, nil, fmt.Errorf("restore hash state: %w", err)
	}
	return st, h, nil
}

// writeState replaces dir's state atomically (temp file, rename), so a
// process that dies leaves either the old or the new state, never a torn
// one. It is not fsynced, and neither is the data before Commit: an upload
// in progress need not survive the machine losing power (the client
// restarts it; resuming reconciles data and state), and an fsync per
// request cost a chunked upload (scs-library-client sends 5 MiB chunks)
// about a third of its speed, since on ext4 it also flushes the data.
func writeState(base string, st state) ([]byte, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	tmp := base + stateSuffix + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, filePerm)
	if err != nil {
		return nil, err
	}
	_, err = f.Write(b)
	if err = errors.Join(err, f.Close()); err != nil {
		return nil, err
	}
	return b, os.Rename(tmp, base+stateSuffix)
}

// AbortUpload discards a session and everything it wrote; the session's
// files are all there is to it, so the state is not needed.
func (s *Store) AbortUpload(ctx context.Context, id string, _ []byte) error {
	base, err := s.uploadPath(id)
	if err != nil {
		return err
	}
	found, err := removeSession(base)
	if err != nil {
		return sessionErr(err, id, "abort")
	}
	if !found {
		return apperr.New(apperr.NotFound, "upload unknown")
	}
	return nil
}

// removeSession removes a session's files and reports whether it had any.
func removeSession(base string) (bool, error) {
	found := false
	for _, suffix := range []string{dataSuffix, stateSuffix, stateSuffix + ".tmp"} {
		err := os.Remove(base + suffix)
		if err == nil {
			found = true
		} else if !errors.Is(err, fs.ErrNotExist) {
			return found, err
		}
	}
	return found, nil
}

// PurgeUploads removes sessions untouched for longer than olderThan and
// returns how many it removed. A session's age is its newest file: data is
// written on every flush and the state on every Close. Directories are
// sessions of the layout before this one (uploads/<id>/).
func (s *Store) PurgeUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	entries, err := os.ReadDir(s.uploads)
	if err != nil {
		return 0, apperr.Wrap(apperr.Internal, err, "blob store: list uploads")
	}
	cutoff := time.Now().Add(-olderThan)
	newest := map[string]time.Time{} // session id -> newest mtime
	for _, e := range entries {
		id, _, _ := strings.Cut(e.Name(), ".")
		if _, err := s.uploadPath(id); err != nil {
			continue // not a session of ours
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		if t := fi.ModTime(); t.After(newest[id]) {
			newest[id] = t
		}
	}
	n := 0
	for id, last := range newest {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if last.After(cutoff) {
			continue
		}
		base := filepath.Join(s.uploads, id)
		if _, err := removeSession(base); err != nil {
			return n, apperr.Wrap(apperr.Internal, err, "blob store: purge upload %s", id)
		}
		if err := os.RemoveAll(base); err != nil {
			return n, apperr.Wrap(apperr.Internal, err, "blob store: purge upload %s", id)
		}
		n++
	}
	return n, nil
}
