package s3blob

import (
	"bytes"
	"context"
	"encoding"
	"encoding/json"
	"errors"
	"hash"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/blob"
)

var errDone = errors.New("s3blob: writer already closed, committed or cancelled")

// ioTimeout bounds a write to S3 made after the request that started it
// ended (its tail must still be saved).
const ioTimeout = 2 * time.Minute

// writer is one open session, used by one goroutine like any io.Writer.
// Bytes gather in a part buffer, hashed as they arrive; a full buffer goes
// to S3 as the next part while the next one fills, so at most two part
// buffers exist per session.
type writer struct {
	// ctx is the request's, without its cancellation: bytes a request
	// received before its client went away are still saved. io.Writer
	// has no context of its own.
	ctx  context.Context
	s    *Store
	id   string
	h    hash.Hash // over every accepted byte
	n    int64     // bytes accepted
	buf  *[]byte   // bytes after the parts
	sent *part     // the part being uploaded, or nil
	// saved is the last state consistent with S3: what Close reports
	// after a failure. cur is the session as written so far.
	saved, cur state
	// tailFresh: buf holds exactly the bytes of cur.Tail.
	tailFresh bool
	err       error // the first failure; the session then holds saved
	done      bool
	stateJSON []byte
}

// part is a part on its way to S3.
type part struct {
	number int
	buf    *[]byte
	hash   []byte // the hash state after this part
	done   chan struct{}
	etag   string
	err    error
}

var (
	_ blob.Writer   = (*writer)(nil)
	_ blob.Expecter = (*writer)(nil)
)

func (s *Store) newWriter(ctx context.Context, id string, st state, h hash.Hash, buf *[]byte) *writer {
	return &writer{ctx: context.WithoutCancel(ctx), s: s, id: id, h: h, n: st.Offset, buf: buf,
		saved: st, cur: st, tailFresh: st.Tail != ""}
}

func (w *writer) ID() string { return w.id }

// Size is what the session holds: every accepted byte, or after a failed
// Close what S3 kept.
func (w *writer) Size() int64 { return w.n }

// Expect targets the blob's own key when the session's first part goes
// out, so the commit needs no copy.
func (w *writer) Expect(d digest.Digest) {
	if w.cur.Key == "" && d.Algorithm() == w.cur.Algorithm && checkDigest(d) == nil {
		w.cur.Expect, w.saved.Expect = d, d
	}
}

func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, errDone
	}
	if w.err != nil {
		return 0, w.err
	}
	written := 0
	for len(p) > 0 {
		b := *w.buf
		k := copy(b[len(b):cap(b)], p)
		w.h.Write(p[:k])
		*w.buf = b[:len(b)+k]
		p, written, w.n = p[k:], written+k, w.n+int64(k)
		w.tailFresh = false
		if len(*w.buf) == cap(*w.buf) {
			if err := w.send(); err != nil {
				w.err = err
				return written, err
			}
		}
	}
	return written, nil
}

// send starts uploading the full buffer as the next part, after the
// previous part is in.
func (w *writer) send() error {
	if err := w.wait(); err != nil {
		return err
	}
	if len(w.cur.Parts) >= maxParts {
		return apperr.New(apperr.TooLarge, "blob too large: more than %d parts of %d bytes", maxParts, w.cur.PartSize)
	}
	if w.cur.Upload == "" {
		if err := w.startMultipart(); err != nil {
			return err
		}
	}
	hs, err := w.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return apperr.Wrap(apperr.Internal, err, "saving the hash state")
	}
	p := &part{number: len(w.cur.Parts) + 1, buf: w.buf, hash: hs, done: make(chan struct{})}
	w.sent, w.buf = p, w.s.buffer()
	if int64(cap(*w.buf)) != w.cur.PartSize {
		b := make([]byte, 0, w.cur.PartSize)
		w.buf = &b
	}
	go func() {
		defer close(p.done)
		up, err := w.s.core.PutObjectPart(w.ctx, w.s.bucket, w.cur.Key, w.cur.Upload, p.number,
			bytes.NewReader(*p.buf), int64(len(*p.buf)), minio.PutObjectPartOptions{DisableContentSha256: true})
		p.etag, p.err = up.ETag, mapErr(err, "write part %d", p.number)
	}()
	return nil
}

// startMultipart begins the session's multipart upload: at the blob's own
// key when its digest was announced, else at the session's data key.
func (w *writer) startMultipart() error {
	key := w.s.uploadPrefix(w.id) + "data"
	if w.cur.Expect != "" {
		key = w.s.blobKey(w.cur.Expect)
	}
	upload, err := w.s.core.NewMultipartUpload(w.ctx, w.s.bucket, key, minio.PutObjectOptions{})
	if err != nil {
		return mapErr(err, "start multipart upload")
	}
	w.cur.Key, w.cur.Upload = key, upload
	// Recorded at once, so that even a session whose first part fails
	// can have its multipart upload aborted.
	w.saved.Key, w.saved.Upload = key, upload
	return nil
}

// wait waits for the part in flight; once it is in, the session is
// consistent at that part's end: the tail it continued from (whose bytes
// began the part) is stale.
func (w *writer) wait() error {
	p := w.sent
	if p == nil {
		return nil
	}
	<-p.done
	w.sent = nil
	w.s.release(p.buf)
	if p.err != nil {
		return p.err
	}
	w.cur.Parts = append(w.cur.Parts, p.etag)
	w.cur.Offset = int64(len(w.cur.Parts)) * w.cur.PartSize
	w.cur.Hash = p.hash
	if w.cur.Tail != "" {
		w.cur.Stale = append(w.cur.Stale, w.cur.Tail)
		w.cur.Tail = ""
	}
	return nil
}

// Close saves the session: the part in flight, then the bytes after it as
// a new tail object. After any failure the session is what S3 holds for
// sure (saved), and Size says so.
func (w *writer) Close() error {
	if w.done {
		return errDone
	}
	w.done = true
	err := w.err
	if err == nil {
		err = w.wait()
	}
	if err == nil {
		err = w.saveTail()
	}
	if err == nil {
		w.saved = w.cur
	} else if w.sent != nil {
		<-w.sent.done
		w.s.release(w.sent.buf)
	}
	w.s.release(w.buf)
	w.buf, w.sent = nil, nil
	w.n = w.saved.Offset
	if w.saved.Tail != "" {
		w.stateJSON, _ = json.Marshal(w.saved)
	} else if w.saved.Upload != "" {
		// Nothing was ever saved: there is no session to resume, and no
		// state names the multipart upload this request began, so
		// AbortUpload could not find it. It goes now (or, S3 being down,
		// with PurgeUploads).
		w.discard()
	}
	return err
}

// discard removes what a session that never saved a state began.
func (w *writer) discard() {
	ctx, cancel := context.WithTimeout(w.ctx, ioTimeout)
	defer cancel()
	_, _ = w.s.removeSession(ctx, w.id, &w.saved)
	w.saved.Key, w.saved.Upload = "", ""
}

// saveTail writes the bytes after the parts to a new tail object, unless
// the current tail already holds exactly them.
func (w *writer) saveTail() error {
	if w.tailFresh && w.cur.Tail != "" {
		return nil
	}
	hs, err := w.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return apperr.Wrap(apperr.Internal, err, "saving the hash state")
	}
	ctx, cancel := context.WithTimeout(w.ctx, ioTimeout)
	defer cancel()
	key := w.s.tailKey(w.id, w.n)
	if err := w.s.putSmall(ctx, key, *w.buf, ""); err != nil {
		return err
	}
	if w.cur.Tail != "" {
		w.cur.Stale = append(w.cur.Stale, w.cur.Tail)
	}
	w.cur.Tail, w.cur.Offset, w.cur.Hash = key, w.n, hs
	return nil
}

// State is the session's state after Close (JSON).
func (w *writer) State() []byte { return w.stateJSON }

// Cancel discards the session.
func (w *writer) Cancel(ctx context.Context) error {
	if w.done {
		return errDone
	}
	w.done = true
	w.finish()
	_, err := w.s.removeSession(context.WithoutCancel(ctx), w.id, &w.cur)
	return err
}

// finish waits for a part in flight and gives back the buffers.
func (w *writer) finish() {
	if w.sent != nil {
		<-w.sent.done
		w.s.release(w.sent.buf)
		w.sent = nil
	}
	w.s.release(w.buf)
	w.buf = nil
}
