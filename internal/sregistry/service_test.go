package sregistry_test

// The service under a clock of the test's, over the real composed
// server's stores and services: the time rules (signature hours, permit
// lifetime) and the client keys.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sylabs/sif/v2/pkg/sif"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/pgtest"
	"github.com/silo-hpc/silo/internal/servertest"
	"github.com/silo-hpc/silo/internal/sregistry"
	"github.com/silo-hpc/silo/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

type fixture struct {
	srv   *servertest.Server
	svc   *sregistry.Service
	clock *testenv.Clock
	alice auth.Principal
	tok   meta.Token
}

func newFixture(t *testing.T, key string) *fixture {
	t.Helper()
	srv := servertest.Start(t)
	c := testenv.NewClock(time.Date(2026, 12, 1, 10, 0, 30, 0, time.UTC))
	svc := sregistry.New(srv.Meta, srv.Blobs, srv.Auth, srv.Library, srv.Bridge, srv.Uploads,
		sregistry.Config{Key: []byte(key), Now: c.Now})
	u, err := srv.Auth.CreateUser(context.Background(), "alice", meta.RoleUser, "")
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := srv.Auth.IssueToken(context.Background(), "alice", "t", 0)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, svc: svc, clock: c, alice: auth.Principal{UserID: u.ID, Name: "alice", Role: meta.RoleUser}, tok: tok}
}

// key reads the client key of a token from its secrets file.
func (f *fixture) key(t *testing.T, tok meta.Token) string {
	t.Helper()
	b, err := f.svc.ClientSecrets(context.Background(), f.alice, tok.ID, "https://r.example.org")
	if err != nil {
		t.Fatal(err)
	}
	var s struct{ Registry struct{ Token string } }
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s.Registry.Token
}

// sign is sregistry-cli's header (SR §2.1) for a time stamp.
func sign(user, key, kind, coll, ts, name, tag string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(kind + "|" + coll + "|" + ts + "|" + name + "|" + tag + "|"))
	return "SREGISTRY-HMAC-SHA256 Credential=" + kind + "/" + base64.StdEncoding.EncodeToString([]byte(user)) + "/" + ts +
		",Signature=" + hex.EncodeToString(m.Sum(nil))
}

func (f *fixture) push(authz string) (int64, error) {
	return f.svc.StartPush(context.Background(), sregistry.PushRequest{
		Name: sregistry.Name{Collection: "tools", Container: "app", Tag: "v1"}, Authorization: authz})
}

// Signatures count in the server's current UTC hour and the one before,
// not earlier and not later.
func TestSignatureHours(t *testing.T) {
	f := newFixture(t, strings.Repeat("k", 32))
	key := f.key(t, f.tok)
	for ts, ok := range map[string]bool{"20261201T10Z": true, "20261201T09Z": true, "20261201T08Z": false, "20261201T11Z": false, "2026120110": false} {
		_, err := f.push(sign("alice", key, "push", "tools", ts, "app", "v1"))
		if (err == nil) != ok || (!ok && !apperr.Is(err, apperr.Unauthenticated)) {
			t.Errorf("%s: %v, want ok=%v", ts, err, ok)
		}
	}
}

// Client keys: one per API token, the same on every replica (derived
// from the shared key), another with another server key; a revoked token
// or a disabled account stops signing at once.
func TestClientKeys(t *testing.T) {
	f := newFixture(t, strings.Repeat("k", 32))
	ctx := context.Background()
	key := f.key(t, f.tok)
	_, tok2, err := f.srv.Auth.IssueToken(ctx, "alice", "second", 0)
	if err != nil {
		t.Fatal(err)
	}
	key2 := f.key(t, tok2)
	replica := sregistry.New(f.srv.Meta, f.srv.Blobs, f.srv.Auth, f.srv.Library, f.srv.Bridge, f.srv.Uploads,
		sregistry.Config{Key: []byte(strings.Repeat("k", 32))})
	other := sregistry.New(f.srv.Meta, f.srv.Blobs, f.srv.Auth, f.srv.Library, f.srv.Bridge, f.srv.Uploads,
		sregistry.Config{Key: []byte(strings.Repeat("o", 32))})
	again, _ := replica.ClientSecrets(ctx, f.alice, f.tok.ID, "https://r.example.org")
	elsewhere, _ := other.ClientSecrets(ctx, f.alice, f.tok.ID, "https://r.example.org")
	if key == key2 || !bytes.Contains(again, []byte(key)) || bytes.Contains(elsewhere, []byte(key)) || !strings.HasPrefix(key, "silo_sreg_") || len(key) != 53 {
		t.Fatalf("keys %q %q; replica %s; other %s", key, key2, again, elsewhere)
	}
	ts := f.clock.Now().Format("20060102T15Z")
	for _, k := range []string{key, key2} {
		if _, err := f.push(sign("alice", k, "push", "tools", ts, "app", "v1")); err != nil {
			t.Fatalf("key %s: %v", k, err)
		}
	}
	// Not the API token itself: it is no HMAC key here.
	if _, err := f.push(sign("alice", f.tok.Hash, "push", "tools", ts, "app", "v1")); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("the token hash signed: %v", err)
	}
	if err := f.srv.Auth.RevokeToken(ctx, f.tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.push(sign("alice", key, "push", "tools", ts, "app", "v1")); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("revoked token signed: %v", err)
	}
	if _, err := f.svc.ClientSecrets(ctx, f.alice, f.tok.ID, "x"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("secrets of a revoked token: %v", err)
	}
	if err := f.srv.Auth.SetDisabled(ctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.push(sign("alice", key2, "push", "tools", ts, "app", "v1")); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("disabled account signed: %v", err)
	}
	bob := auth.Principal{UserID: "someone", Name: "bob"}
	if _, err := f.svc.ClientSecrets(ctx, bob, tok2.ID, "x"); err == nil {
		t.Fatal("bob read alice's secrets")
	}
}

// A push permit waits 15 minutes for its upload, and its upload session
// no longer.
func TestPermitExpires(t *testing.T) {
	f := newFixture(t, strings.Repeat("k", 32))
	key := f.key(t, f.tok)
	sifFile := smallSIF(t)
	for _, tc := range []struct {
		wait time.Duration
		ok   bool
	}{{14 * time.Minute, true}, {16 * time.Minute, false}} {
		ts := f.clock.Now().Format("20060102T15Z")
		cid, err := f.push(sign("alice", key, "push", "tools", ts, "app", "v1"))
		if err != nil {
			t.Fatal(err)
		}
		// Its session ends with it, for the sweep, not after the
		// uploads' idle timeout.
		sess, err := f.srv.Uploads.List(context.Background(), "sregistry-push", strings.TrimSpace(jsonNumber(cid)))
		if err != nil || len(sess) != 1 || sess[0].ExpiresAt.After(time.Now().Add(16*time.Minute)) {
			t.Fatalf("the permit's session: %+v %v", sess, err)
		}
		f.clock.Add(tc.wait)
		ts = f.clock.Now().Format("20060102T15Z")
		err = f.svc.Upload(context.Background(), sregistry.UploadRequest{
			Authorization: sign("alice", key, "upload", "tools", ts, "app", "v1"),
			Permit:        strings.TrimSpace(jsonNumber(cid)), Name: "app", Tag: "v1", File: bytes.NewReader(sifFile)})
		if (err == nil) != tc.ok || (!tc.ok && !apperr.Is(err, apperr.Denied)) {
			t.Fatalf("after %s: %v, want ok=%v", tc.wait, err, tc.ok)
		}
	}
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }

// smallSIF is a tiny SIF file's bytes.
func smallSIF(t *testing.T) []byte {
	t.Helper()
	di, err := sif.NewDescriptorInput(sif.DataPartition, strings.NewReader(strings.Repeat("x", 4096)),
		sif.OptPartitionMetadata(sif.FsSquash, sif.PartPrimSys, "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/s.sif"
	fi, err := sif.CreateContainerAtPath(path, sif.OptCreateWithDescriptors(di), sif.OptCreateDeterministic())
	if err != nil {
		t.Fatal(err)
	}
	if err := fi.UnloadContainer(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
