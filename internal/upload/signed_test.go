package upload_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/upload"
)

func commitWhole(ctx context.Context, s *upload.Service, id string, b []byte) error {
	_, _, err := s.Commit(ctx, upload.Commit{ID: id, Kind: "k", Digest: digest.FromBytes(b), Size: -1,
		At: -1, Body: bytes.NewReader(b), Length: int64(len(b))})
	return err
}

func unknown(err error) bool {
	return apperr.Is(err, apperr.NotFound) && apperr.SubjectOf(err) == apperr.Upload
}

// A signed session writes nothing until its first bytes, reads as an
// empty session meanwhile, and commits in one PUT; once ended, by commit
// or abort, its id is unknown, though it still carries a valid signature.
func TestSignedSessionLifecycle(t *testing.T) {
	svc, ms, bs, _ := newService(t)
	ctx := context.Background()
	sess, err := svc.Start(ctx, "k", "repo", "u1", "", nil, upload.Signed())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ms.GetUpload(ctx, sess.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("a signed session was recorded at start: %v", err)
	}
	got, err := svc.Get(ctx, sess.ID, "k")
	if err != nil || got.Target != "repo" || got.UserID != "u1" || got.Offset != 0 || got.Algorithm != digest.SHA256 {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := svc.Get(ctx, sess.ID, "other"); !unknown(err) {
		t.Fatalf("another kind: %v", err)
	}
	if err := commitWhole(ctx, svc, sess.ID, []byte("whole")); err != nil {
		t.Fatal(err)
	}
	if _, err := bs.Stat(ctx, digest.FromString("whole")); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"get":    func() error { _, err := svc.Get(ctx, sess.ID, "k"); return err }(),
		"commit": commitWhole(ctx, svc, sess.ID, []byte("again")),
		"append": func() error { _, err := appendAt(ctx, svc, sess.ID, 0, []byte("x")); return err }(),
		"abort":  svc.Abort(ctx, sess.ID, "k"),
	} {
		if !unknown(err) {
			t.Errorf("%s after commit: %v", name, err)
		}
	}

	// Abort before any byte.
	sess, _ = svc.Start(ctx, "k", "repo", "u1", "", nil, upload.Signed())
	if err := svc.Abort(ctx, sess.ID, "k"); err != nil {
		t.Fatal(err)
	}
	if err := commitWhole(ctx, svc, sess.ID, []byte("late")); !unknown(err) {
		t.Fatalf("commit after abort: %v", err)
	}
}

// Chunks record the session on the first one; the rest is an ordinary
// session, and a mismatched commit ends it for good.
func TestSignedSessionChunks(t *testing.T) {
	svc, ms, _, _ := newService(t)
	ctx := context.Background()
	sess, _ := svc.Start(ctx, "k", "repo", "u1", "", nil, upload.Signed())
	if _, err := appendAt(ctx, svc, sess.ID, 0, []byte("hello ")); err != nil {
		t.Fatal(err)
	}
	row, err := ms.GetUpload(ctx, sess.ID)
	if err != nil || row.Target != "repo" || row.Kind != "k" || row.LeaseHolder != "" {
		t.Fatalf("%+v %v", row, err)
	}
	if got, err := appendAt(ctx, svc, sess.ID, 6, []byte("world")); err != nil || got.Offset != 11 {
		t.Fatalf("%+v %v", got, err)
	}
	_, _, err = svc.Commit(ctx, upload.Commit{ID: sess.ID, Kind: "k", Digest: digest.FromString("other"), Size: -1, At: -1, Length: -1})
	if !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("mismatch: %v", err)
	}
	if _, err := svc.Get(ctx, sess.ID, "k"); !unknown(err) {
		t.Fatalf("after a mismatch: %v", err)
	}
}

// Two PUTs racing on one unrecorded session: exactly one wins.
func TestSignedSessionRacingCommits(t *testing.T) {
	svc, _, _, _ := newService(t)
	ctx := context.Background()
	sess, _ := svc.Start(ctx, "k", "repo", "u1", "", nil, upload.Signed())
	errs := make(chan error, 2)
	for _, b := range []string{"one", "two"} {
		go func() { errs <- commitWhole(ctx, svc, sess.ID, []byte(b)) }()
	}
	ok := 0
	for range 2 {
		if err := <-errs; err == nil {
			ok++
		} else if !unknown(err) {
			t.Fatal(err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d commits succeeded", ok)
	}
}

// A forged, altered or foreign-key id is unknown; so is a signed id past
// its expiry, recorded or not, and the sweep clears its tombstone.
func TestSignedSessionForgedAndExpired(t *testing.T) {
	svc, ms, bs, c := newService(t)
	ctx := context.Background()
	sess, _ := svc.Start(ctx, "k", "repo", "u1", "", nil, upload.Signed())
	raw, err := base64.RawURLEncoding.DecodeString(sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-20] ^= 1 // inside the target
	other := upload.New(ms, bs, slog.New(slog.NewTextHandler(io.Discard, nil)),
		upload.Config{IdleTimeout: time.Hour, Now: c.now, Key: []byte("another key")})
	foreign, _ := other.Start(ctx, "k", "repo", "u1", "", nil, upload.Signed())
	for _, id := range []string{base64.RawURLEncoding.EncodeToString(raw), foreign.ID, sess.ID[:len(sess.ID)-2], "", strings.Repeat("A", 60)} {
		if _, err := svc.Get(ctx, id, "k"); !unknown(err) {
			t.Errorf("get %q: %v", id, err)
		}
		if err := commitWhole(ctx, svc, id, []byte("x")); !unknown(err) {
			t.Errorf("commit %q: %v", id, err)
		}
		if _, err := appendAt(ctx, svc, id, 0, []byte("x")); !unknown(err) {
			t.Errorf("append %q: %v", id, err)
		}
	}
	done, _ := svc.Start(ctx, "k", "repo", "u1", "", nil, upload.Signed())
	if err := commitWhole(ctx, svc, done.ID, []byte("done")); err != nil {
		t.Fatal(err)
	}
	c.add(time.Hour + time.Second)
	if _, err := svc.Get(ctx, sess.ID, "k"); !unknown(err) {
		t.Fatalf("expired: %v", err)
	}
	if err := commitWhole(ctx, svc, sess.ID, []byte("x")); !unknown(err) {
		t.Fatalf("commit expired: %v", err)
	}
	if _, err := svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ms.GetUpload(ctx, done.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("tombstone after expiry: %v", err)
	}
}
