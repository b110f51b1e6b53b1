package upload

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/periodic"
)

// Append describes bytes to add at the end of a session.
type Append struct {
	ID, Kind string
	// Check runs under the lease before any byte is read: it returns how
	// many bytes this request may append at most (-1 for no limit), or an
	// error that leaves the session as it was.
	Check func(s *Session) (max int64, err error)
	// At, when >= 0, is the offset the bytes must start at: anything else
	// is apperr.Conflict about Range and changes nothing.
	At   int64
	Body io.Reader
	// Length, when >= 0, is exactly how many bytes Body must bring.
	Length int64
	// Done runs under the lease after the bytes are stored and before the
	// session is saved; it may change s.Data. Its error is returned, and
	// the session is kept as it was saved before (its new bytes are
	// stored, so the caller usually aborts it).
	Done func(s *Session, n int64) error
}

// lease is one request's hold on a session.
type lease struct {
	s      *Service
	id     string
	holder string
	loop   *periodic.Loop // the renewal
}

// claim takes session id's lease for this request, returning the row,
// and keeps renewing the lease until release: a stream may take longer
// than one lease.
func (s *Service) claim(ctx context.Context, id string) (*lease, meta.Upload, error) {
	l := &lease{s: s, id: id, holder: newID()[:32]}
	now := s.cfg.Now()
	row, err := s.meta.ClaimUpload(ctx, id, l.holder, now.Add(s.cfg.Lease), now)
	if apperr.Is(err, apperr.NotFound) {
		return nil, row, Unknown()
	}
	if err != nil {
		return nil, row, err
	}
	l.renew(context.WithoutCancel(ctx))
	return l, row, nil
}

// renew keeps the lease for as long as the request runs.
func (l *lease) renew(ctx context.Context) {
	l.loop = periodic.Run(l.s.cfg.Lease/3, func() {
		now := l.s.cfg.Now()
		if _, err := l.s.meta.ClaimUpload(ctx, l.id, l.holder, now.Add(l.s.cfg.Lease), now); err != nil {
			l.s.log.Warn("renewing an upload lease", "err", err)
		}
	})
}

// halt stops renewing; the lease itself ends with release, or lapses.
func (l *lease) halt() { l.loop.Stop() }

// release saves sess (or, with sess nil, the row as it is) and ends the
// lease. It runs even when the request was cancelled: what the session
// holds must be recorded, or a resuming client would be sent back before
// bytes the session already has.
func (l *lease) release(ctx context.Context, row meta.Upload, sess *Session) error {
	l.halt()
	if sess != nil {
		row.State = encode(*sess)
		row.BlobUploadID = sess.blobID
		row.ExpiresAt = l.s.cfg.Now().Add(l.s.cfg.IdleTimeout)
	}
	return l.s.meta.ReleaseUpload(context.WithoutCancel(ctx), &row, l.holder)
}

// open claims a live session of kind and loads it.
func (s *Service) open(ctx context.Context, id, kind string) (*lease, meta.Upload, Session, error) {
	l, row, err := s.claim(ctx, id)
	if err != nil {
		return nil, meta.Upload{}, Session{}, err
	}
	sess, err := s.live(row, kind)
	if err != nil {
		l.halt()
		_ = s.meta.ReleaseUpload(context.WithoutCancel(ctx), &row, l.holder)
		return nil, row, sess, err
	}
	return l, row, sess, nil
}

// writer opens the session's blob-store writer, starting one on the first
// bytes. A blob session that does not hold exactly what the row says (a
// crash between the two writes) cannot be trusted: the session ends.
func (s *Service) writer(ctx context.Context, sess *Session) (blob.Writer, error) {
	if sess.blobID == "" {
		w, err := s.newBlobUpload(ctx, sess.Algorithm, sess.expect)
		if err == nil {
			sess.blobID = w.ID()
		}
		return w, err
	}
	w, err := s.blobs.ResumeUpload(ctx, sess.blobID, sess.blobState)
	if apperr.Is(err, apperr.NotFound) {
		return nil, Unknown()
	}
	if err != nil {
		return nil, err
	}
	if w.Size() != sess.Offset {
		_ = w.Cancel(context.WithoutCancel(ctx))
		return nil, apperr.New(apperr.Internal, "upload session out of step: %d bytes stored, %d recorded", w.Size(), sess.Offset)
	}
	return w, nil
}

// newBlobUpload starts a blob-store session, telling it the digest its
// content is announced to have when one is known.
func (s *Service) newBlobUpload(ctx context.Context, alg digest.Algorithm, expect digest.Digest) (blob.Writer, error) {
	w, err := s.blobs.NewUpload(ctx, alg)
	if err != nil {
		return nil, err
	}
	if e, ok := w.(blob.Expecter); ok && expect != "" && expect.Algorithm() == alg && expect.Validate() == nil {
		e.Expect(expect)
	}
	return w, nil
}

// Append adds bytes to a session and returns it as saved. Bytes that
// reached the session stay even when the body failed part-way (the
// client resumes from the offset the session reports), and the error says
// what went wrong.
func (s *Service) Append(ctx context.Context, a Append) (Session, error) {
	l, row, sess, err := s.open(ctx, a.ID, a.Kind)
	if err != nil {
		return Session{}, err
	}
	max := int64(-1)
	if a.Check != nil {
		max, err = a.Check(&sess)
	}
	if err == nil && a.At >= 0 && a.At != sess.Offset {
		err = outOfOrder(sess.Offset)
	}
	if err == nil && max >= 0 && a.Length > max {
		err = apperr.E(apperr.Invalid, apperr.Size, "at most %d bytes may be sent here, not %d", max, a.Length)
	}
	if err != nil {
		return sess, errors.Join(err, l.release(ctx, row, nil))
	}
	n, werr := s.write(ctx, &sess, a.Body, a.Length, max)
	if werr != nil && sess.blobID == "" {
		// Nothing could be stored: the session stays as it was.
		return sess, errors.Join(werr, l.release(ctx, row, nil))
	}
	if werr == nil && a.Done != nil {
		werr = a.Done(&sess, n)
	}
	return sess, errors.Join(werr, l.release(ctx, row, &sess))
}

// outOfOrder is the error for bytes that do not start where the session
// ends.
func outOfOrder(offset int64) error {
	return apperr.E(apperr.Conflict, apperr.Range, "chunk out of order: the upload is at offset %d", offset)
}

// write copies body into the session's blob and closes the writer, so
// the bytes and hash state are saved for the next request.
func (s *Service) write(ctx context.Context, sess *Session, body io.Reader, length, max int64) (int64, error) {
	w, err := s.writer(ctx, sess)
	if err != nil {
		return 0, err
	}
	n, cerr := copyLimited(w, body, length, max)
	// Close even after a failed copy: what reached the session stays.
	return n, errors.Join(cerr, s.keep(ctx, sess, w))
}

// keep closes a session's writer and records in sess what the blob store
// holds of it, so the row saved next agrees with the store. When nothing
// could be stored (the blob store is down), the blob-store session is
// dropped: the next request starts one afresh rather than resume one the
// store does not know.
func (s *Service) keep(ctx context.Context, sess *Session, w blob.Writer) error {
	err := w.Close()
	sess.Offset, sess.blobState = w.Size(), w.State()
	if err != nil && sess.Offset == 0 && sess.blobState == nil {
		_ = s.blobs.AbortUpload(context.WithoutCancel(ctx), sess.blobID, nil)
		sess.blobID = ""
	}
	return err
}

// copyLimited copies body, which must bring exactly length bytes when
// length >= 0 and at most max when max >= 0.
func copyLimited(w io.Writer, body io.Reader, length, max int64) (int64, error) {
	limit := int64(-1)
	switch {
	case length >= 0:
		limit = length
	case max >= 0:
		limit = max
	}
	if limit >= 0 && body != nil {
		body = io.LimitReader(body, limit)
	}
	n, err := copyBody(markedWriter{w}, body)
	if err == nil && length >= 0 && n != length {
		err = apperr.E(apperr.Invalid, apperr.Upload, "the request brought %d bytes, %d were announced", n, length)
	}
	if err == nil && limit >= 0 && n == limit && more(body) {
		if length >= 0 {
			// A body without a Content-Length (chunked) ran past the
			// length its Content-Range announced: the announced bytes are
			// kept, as a short body's are, and the request is refused.
			err = apperr.E(apperr.Invalid, apperr.Range, "the request brought more than the %d bytes it announced", length)
		} else {
			err = apperr.E(apperr.Invalid, apperr.Size, "more than %d bytes were sent", limit)
		}
	}
	return n, err
}

// more reports whether the rest of a limited body still has bytes.
func more(body io.Reader) bool {
	lr, ok := body.(*io.LimitedReader)
	if !ok {
		return false
	}
	var b [1]byte
	n, _ := lr.R.Read(b[:])
	return n > 0
}

// Update changes a session's owner state without bytes (a Library part
// announcement, say), under the lease.
func (s *Service) Update(ctx context.Context, id, kind string, fn func(s *Session) error) (Session, error) {
	l, row, sess, err := s.open(ctx, id, kind)
	if err != nil {
		return Session{}, err
	}
	if err := fn(&sess); err != nil {
		return sess, errors.Join(err, l.release(ctx, row, nil))
	}
	return sess, l.release(ctx, row, &sess)
}

// Commit describes the end of a session.
type Commit struct {
	ID, Kind string
	// Check runs under the lease first; an error leaves the session as it
	// was (the caller may abort it).
	Check func(s *Session) error
	// Digest and Size (when >= 0) are what the content must be.
	Digest digest.Digest
	Size   int64
	// At, Body and Length are a last chunk, as in Append (Body nil: none).
	At     int64
	Body   io.Reader
	Length int64
	// Record, when set, writes the caller's metadata about the published
	// blob in the transaction that ends the session, so the two commit
	// together.
	Record func(ctx context.Context, tx meta.Store, info blob.Info) error
}

// Commit verifies a session's bytes (plus a last chunk) against a digest
// and size and publishes the blob; the session ends. Content that does
// not match ends the session too, leaving nothing behind. A malformed
// expected digest, a failed Check, a chunk out of order or a body cut
// short keep the session, so the client can retry or resume.
func (s *Service) Commit(ctx context.Context, c Commit) (blob.Info, Session, error) {
	if err := c.Digest.Validate(); err != nil {
		return blob.Info{}, Session{}, apperr.Wrap(apperr.Invalid, err, "invalid digest")
	}
	if row, err := s.meta.GetUpload(ctx, c.ID); err == nil && row.BlobUploadID == "" &&
		(row.LeaseHolder == "" || row.LeaseUntil.Before(s.cfg.Now())) {
		return s.commitFresh(ctx, c, row)
	}
	l, row, sess, err := s.open(ctx, c.ID, c.Kind)
	if err != nil {
		return blob.Info{}, Session{}, err
	}
	if c.Check != nil {
		err = c.Check(&sess)
	}
	if err == nil && c.Body != nil && c.At >= 0 && c.At != sess.Offset {
		err = outOfOrder(sess.Offset)
	}
	if err != nil {
		return blob.Info{}, sess, errors.Join(err, l.release(ctx, row, nil))
	}
	w, err := s.writer(ctx, &sess)
	if err != nil {
		return blob.Info{}, sess, errors.Join(err, l.release(ctx, row, nil))
	}
	if _, err := copyLimited(w, c.Body, c.Length, -1); err != nil {
		return blob.Info{}, sess, errors.Join(err, s.keep(ctx, &sess, w), l.release(ctx, row, &sess))
	}
	gen, err := s.pin(ctx, c.Digest)
	if err != nil {
		return blob.Info{}, sess, errors.Join(err, s.keep(ctx, &sess, w), l.release(ctx, row, &sess))
	}
	info, err := w.Commit(ctx, c.Digest, c.Size)
	if err != nil && !apperr.Is(err, apperr.Invalid) {
		return blob.Info{}, sess, errors.Join(err, l.release(ctx, row, nil))
	}
	l.halt()
	return info, sess, s.finish(ctx, c, info, gen, err)
}

// commitFresh commits a session that holds no bytes yet (a monolithic
// push: POST, then PUT with the whole blob) without taking its lease: the
// request writes a blob-store session of its own, so no other request
// can touch its bytes, and the transaction that records the blob deletes
// the session's row, which only one request can do. That spares the
// commonest push a database write. A body cut short is dropped: the
// session still holds nothing.
func (s *Service) commitFresh(ctx context.Context, c Commit, row meta.Upload) (blob.Info, Session, error) {
	sess, err := s.live(row, c.Kind)
	if err == nil && c.Check != nil {
		err = c.Check(&sess)
	}
	if err == nil && c.Body != nil && c.At > 0 {
		err = outOfOrder(0)
	}
	if err != nil {
		return blob.Info{}, sess, err
	}
	w, err := s.newBlobUpload(ctx, sess.Algorithm, c.Digest)
	if err != nil {
		return blob.Info{}, sess, err
	}
	if _, err := copyLimited(w, c.Body, c.Length, -1); err != nil {
		return blob.Info{}, sess, errors.Join(err, w.Cancel(context.WithoutCancel(ctx)))
	}
	gen, err := s.pin(ctx, c.Digest)
	if err != nil {
		return blob.Info{}, sess, errors.Join(err, w.Cancel(context.WithoutCancel(ctx)))
	}
	info, err := w.Commit(ctx, c.Digest, c.Size)
	if err != nil && !apperr.Is(err, apperr.Invalid) {
		return blob.Info{}, sess, err
	}
	return info, sess, s.finish(ctx, c, info, gen, err)
}

// finish ends a committed session: a mismatch (verr) ends it with
// nothing recorded; a published blob is recorded (Record) in the
// transaction that deletes the session's row. A session that ended
// meanwhile (another request completed it) is unknown, and its blob
// stays for the garbage collector.
func (s *Service) finish(ctx context.Context, c Commit, info blob.Info, gen int64, verr error) error {
	if verr != nil {
		s.end(ctx, c.ID)
		return mismatch(verr)
	}
	err := s.meta.InTx(ctx, func(tx meta.Store) error {
		if err := tx.DeleteUpload(ctx, c.ID); apperr.Is(err, apperr.NotFound) {
			return errEnded
		} else if err != nil {
			return err
		}
		if err := tx.ConfirmBlob(ctx, info.Digest.String(), info.Size, gen); err != nil {
			return err
		}
		if c.Record == nil {
			return nil
		}
		return c.Record(ctx, tx, info)
	})
	switch {
	case errors.Is(err, errEnded):
		return Unknown()
	case err != nil:
		// The session's bytes are gone: it must end all the same.
		s.end(ctx, c.ID)
	}
	return err
}

// end deletes a session's row, even for a cancelled request.
func (s *Service) end(ctx context.Context, id string) {
	if err := s.meta.DeleteUpload(context.WithoutCancel(ctx), id); err != nil && !apperr.Is(err, apperr.NotFound) {
		s.log.Warn("deleting a finished upload session", "err", err)
	}
}

// errEnded is a session another request completed or ended meanwhile.
var errEnded = errors.New("upload session ended meanwhile")

// mismatch says what a failed verification is about.
func mismatch(err error) error {
	if err == nil || !apperr.Is(err, apperr.Invalid) {
		return err
	}
	return apperr.About(apperr.Digest, err)
}

// Abort ends a session and discards its bytes.
func (s *Service) Abort(ctx context.Context, id, kind string) error {
	l, row, _, err := s.open(ctx, id, kind)
	if err != nil {
		return err
	}
	l.halt()
	return s.drop(ctx, row)
}

// drop discards a session's blob-store bytes, then its row (in that
// order: a crash in between leaves a row the sweep finds again).
func (s *Service) drop(ctx context.Context, row meta.Upload) error {
	ctx = context.WithoutCancel(ctx)
	if row.BlobUploadID != "" {
		if err := s.blobs.AbortUpload(ctx, row.BlobUploadID, blobStateOf(row)); err != nil && !apperr.Is(err, apperr.NotFound) {
			return err
		}
	}
	if err := s.meta.DeleteUpload(ctx, row.ID); err != nil && !apperr.Is(err, apperr.NotFound) {
		return err
	}
	return nil
}

// Put stores a whole blob sent in one request, with no session: what a
// monolithic OCI POST and the Library v1 upload send.
func (s *Service) Put(ctx context.Context, body io.Reader, length int64, d digest.Digest, size int64) (blob.Info, error) {
	if err := d.Validate(); err != nil {
		return blob.Info{}, apperr.Wrap(apperr.Invalid, err, "invalid digest")
	}
	w, err := s.newBlobUpload(ctx, d.Algorithm(), d)
	if err != nil {
		return blob.Info{}, err
	}
	if _, err := copyLimited(w, body, length, -1); err != nil {
		return blob.Info{}, errors.Join(err, w.Cancel(context.WithoutCancel(ctx)))
	}
	gen, err := s.pin(ctx, d)
	if err != nil {
		return blob.Info{}, errors.Join(err, w.Cancel(context.WithoutCancel(ctx)))
	}
	info, err := w.Commit(ctx, d, size)
	if err != nil {
		return blob.Info{}, mismatch(err)
	}
	return info, s.meta.ConfirmBlob(ctx, info.Digest.String(), info.Size, gen)
}

// pin marks d's row as about to be stored, before the bytes reach their
// place, so the garbage collector leaves it alone (docs/gc.md). While the
// collector is removing that very blob, it waits a little for it to
// finish; the client gets a 503 if that takes too long.
func (s *Service) pin(ctx context.Context, d digest.Digest) (int64, error) {
	wait := 20 * time.Millisecond
	for {
		gen, err := s.meta.PinBlob(ctx, d.String())
		if !apperr.Is(err, apperr.Unavailable) || wait > 2*time.Second {
			return gen, err
		}
		select {
		case <-ctx.Done():
			return 0, err
		case <-time.After(wait):
		}
		wait *= 2
	}
}
