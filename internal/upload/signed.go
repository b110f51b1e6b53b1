package upload

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

// Signed sessions (Start with Signed) are recorded lazily: the POST that
// starts an OCI upload writes nothing, its id carries the session's state
// (kind, target, user, algorithm, expiry) under an HMAC with a key every
// replica shares, and the row is written by the first request that stores
// bytes (a PATCH). A monolithic push (POST, then one PUT with the whole
// blob) thus records its session only as the tombstone the commit writes
// in the transaction that records the blob. Ending a signed session (commit,
// abort, a digest mismatch) leaves that tombstone until the id expires by
// itself, so an ended id never comes back to life (docs/architecture.md,
// "Uploads").

// EndedKind marks a tombstone row: the kind no owner uses, so every
// lookup of a live session answers Unknown for it. A tombstone holds no
// bytes (tests that count stored sessions skip it).
const EndedKind = "ended"

const (
	signedVersion = 1
	nonceBytes    = 12
	macBytes      = 16
)

// Signed makes Start issue a signed id and record nothing: the session's
// row is written when it first stores bytes. Sessions with owner state
// (data) are always recorded.
func Signed() Option {
	return func(s *Session) { s.signed = true }
}

// deriveKey separates the session-signing key from other uses of the
// server's secret.
func deriveKey(secret []byte) []byte {
	if len(secret) == 0 {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			panic(err)
		}
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("silo upload session ids v1"))
	return m.Sum(nil)
}

// signID encodes sess as a signed id: version, nonce, expiry, then the
// length-prefixed algorithm, kind, user and target, then the MAC.
func (s *Service) signID(sess Session) string {
	b := make([]byte, 0, 64+len(sess.Target)+len(sess.UserID))
	b = append(b, signedVersion)
	var nonce [nonceBytes]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		panic(err)
	}
	b = append(b, nonce[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(sess.ExpiresAt.Unix()))
	for _, f := range []string{string(sess.Algorithm), sess.Kind, sess.UserID, sess.Target} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	b = append(b, s.mac(b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Service) mac(b []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(b)
	return m.Sum(nil)[:macBytes]
}

// unsigned decodes a signed id whose MAC holds, whatever its expiry and
// kind; ok is false for anything else (a forged, altered or random id).
func (s *Service) unsigned(id string) (Session, bool) {
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(b) < 1+nonceBytes+8+macBytes || b[0] != signedVersion {
		return Session{}, false
	}
	body, sum := b[:len(b)-macBytes], b[len(b)-macBytes:]
	if !hmac.Equal(sum, s.mac(body)) {
		return Session{}, false
	}
	exp := int64(binary.BigEndian.Uint64(body[1+nonceBytes:]))
	rest := body[1+nonceBytes+8:]
	var f [4]string
	for i := range f {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) {
			return Session{}, false
		}
		f[i], rest = string(rest[k:k+int(n)]), rest[k+int(n):]
	}
	if len(rest) != 0 {
		return Session{}, false
	}
	return Session{ID: id, Algorithm: digest.Algorithm(f[0]), Kind: f[1], UserID: f[2], Target: f[3],
		ExpiresAt: time.Unix(exp, 0).UTC(), signed: true}, true
}

// unrecorded returns the session a signed id of kind carries while it is
// live by itself (its row, if any, decides otherwise: callers look there
// first).
func (s *Service) unrecorded(id, kind string) (Session, bool) {
	sess, ok := s.unsigned(id)
	if !ok || sess.Kind != kind || !sess.ExpiresAt.After(s.cfg.Now()) {
		return Session{}, false
	}
	return sess, true
}

// record writes the row of a signed session on its first write, already
// leased to this request. When another request recorded (or ended) it
// first, the ordinary claim decides.
func (s *Service) record(ctx context.Context, id, kind string) (*lease, meta.Upload, error) {
	sess, ok := s.unrecorded(id, kind)
	if !ok {
		return nil, meta.Upload{}, Unknown()
	}
	l := s.newLease(id)
	now := s.cfg.Now()
	row := meta.Upload{ID: id, Kind: sess.Kind, Target: sess.Target, UserID: sess.UserID, CreatedAt: now,
		ExpiresAt: sess.ExpiresAt, State: encode(sess), LeaseHolder: l.holder, LeaseUntil: now.Add(s.cfg.Lease)}
	err := s.meta.CreateUpload(ctx, &row)
	if apperr.Is(err, apperr.Conflict) {
		return s.claim(ctx, id)
	}
	if err != nil {
		return nil, row, err
	}
	go l.renew(context.WithoutCancel(ctx))
	return l, row, nil
}

// bury ends session id in tx. A session that was never signed is simply
// deleted. A signed one is replaced by a tombstone until its id expires
// by itself; a tombstone already there means another request ended it
// first (errEnded).
func (s *Service) bury(ctx context.Context, tx meta.Uploads, id string) error {
	sess, signed := s.unsigned(id)
	if !signed || !sess.ExpiresAt.After(s.cfg.Now()) {
		if err := tx.DeleteUpload(ctx, id); apperr.Is(err, apperr.NotFound) {
			return errEnded
		} else if err != nil {
			return err
		}
		return nil
	}
	row, err := tx.GetUpload(ctx, id)
	switch {
	case err == nil && row.Kind == EndedKind:
		return errEnded
	case err == nil:
		if err := tx.DeleteUpload(ctx, id); apperr.Is(err, apperr.NotFound) {
			return errEnded
		} else if err != nil {
			return err
		}
	case !apperr.Is(err, apperr.NotFound):
		return err
	}
	tomb := meta.Upload{ID: id, Kind: EndedKind, CreatedAt: s.cfg.Now(), ExpiresAt: sess.ExpiresAt}
	if err := tx.CreateUpload(ctx, &tomb); apperr.Is(err, apperr.Conflict) {
		return errEnded
	} else if err != nil {
		return err
	}
	return nil
}

// buryNow is bury in a transaction of its own, for a request that may
// have been cancelled.
func (s *Service) buryNow(ctx context.Context, id string) error {
	err := s.meta.InTx(context.WithoutCancel(ctx), func(tx meta.Store) error { return s.bury(ctx, tx, id) })
	if errors.Is(err, errEnded) {
		return apperr.E(apperr.NotFound, apperr.Upload, "upload session already ended")
	}
	return err
}
