package pgpkeys_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/keyserver/keyservertest"
	"github.com/silo-hpc/silo/internal/logctx"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/pgpkeys"
	"github.com/silo-hpc/silo/internal/sqlmeta"
	"github.com/silo-hpc/silo/internal/testenv"
)

// env is the real service over a real SQLite store, with three users.
type env struct {
	t     *testing.T
	ctx   context.Context
	st    *sqlmeta.Store
	svc   *pgpkeys.Service
	clock *testenv.Clock
	// changes counts the calls of Config.Changed.
	changes          atomic.Int64
	alice, bob, root auth.Principal
}

// newEnv opens the service with cfg (its Now and Changed are the env's).
func newEnv(t *testing.T, cfg pgpkeys.Config) *env {
	t.Helper()
	e := &env{t: t, ctx: logctx.With(context.Background(), slog.New(slog.DiscardHandler)), clock: testenv.NewClock(time.Now().UTC().Truncate(time.Second))}
	path := filepath.Join(t.TempDir(), "meta.db")
	if err := os.WriteFile(path, migrated(t), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := sqlmeta.OpenSQLite(e.ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.st = st
	e.alice, e.bob, e.root = e.user("alice", meta.RoleUser), e.user("bob", meta.RoleUser), e.user("root", meta.RoleAdmin)
	e.configure(cfg)
	return e
}

// configure makes the service anew with cfg over the same store.
func (e *env) configure(cfg pgpkeys.Config) {
	cfg.Now = e.clock.Now
	cfg.Changed = func() { e.changes.Add(1) }
	e.svc = pgpkeys.New(e.st, cfg)
}

// template is an empty database with every migration run, which each
// env copies: running them again for each test took 0.4 s under the race
// detector, a copy one sixth of it.
var template struct {
	once sync.Once
	db   []byte
	err  error
}

func migrated(t *testing.T) []byte {
	template.once.Do(func() {
		path := filepath.Join(t.TempDir(), "template.db")
		st, err := sqlmeta.OpenSQLite(context.Background(), path)
		if err != nil {
			template.err = err
			return
		}
		if template.err = st.Close(); template.err != nil {
			return
		}
		// Closed, the store has checkpointed its write-ahead log: the
		// one file is the whole database.
		if _, err := os.Stat(path + "-wal"); err == nil {
			template.err = fmt.Errorf("%s-wal is left after Close", path)
			return
		}
		template.db, template.err = os.ReadFile(path)
	})
	if template.err != nil {
		t.Fatal(template.err)
	}
	return template.db
}

func (e *env) user(name string, role meta.Role) auth.Principal {
	e.t.Helper()
	u := meta.User{Name: name, Email: name + "@example.org", Role: role}
	if err := e.st.CreateUser(e.ctx, &u); err != nil {
		e.t.Fatal(err)
	}
	return auth.Principal{UserID: u.ID, Name: u.Name, Role: u.Role}
}

// state is everything the service keeps: every key row and the keyring
// generation, and how often it announced a change.
type state struct {
	keys    map[string]meta.PGPKey
	gen     int64
	changes int64
}

func (e *env) state() state {
	e.t.Helper()
	keys, err := e.st.ListPGPKeys(e.ctx, "")
	if err != nil {
		e.t.Fatal(err)
	}
	gen, err := e.st.KeyringGeneration(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	s := state{keys: map[string]meta.PGPKey{}, gen: gen, changes: e.changes.Load()}
	for _, k := range keys {
		s.keys[k.Fingerprint] = k
	}
	return s
}

// same fails unless the service's state is still before.
func (e *env) same(before state) {
	e.t.Helper()
	after := e.state()
	if !reflect.DeepEqual(before, after) {
		e.t.Fatalf("the state changed:\nbefore %d keys, generation %d, %d changes\nafter  %d keys, generation %d, %d changes",
			len(before.keys), before.gen, before.changes, len(after.keys), after.gen, after.changes)
	}
}

// add adds text for p and fails on an error.
func (e *env) add(p auth.Principal, text string) []pgpkeys.Added {
	e.t.Helper()
	got, err := e.svc.Add(e.ctx, p, text)
	if err != nil {
		e.t.Fatalf("%s adding keys: %v", p.Name, err)
	}
	return got
}

// refused adds text for p, wants an error of class code whose message
// holds msg, and that nothing changed.
func (e *env) refused(p auth.Principal, text string, code apperr.Code, msg string) {
	e.t.Helper()
	before := e.state()
	got, err := e.svc.Add(e.ctx, p, text)
	if !apperr.Is(err, code) || !strings.Contains(apperr.MessageOf(err), msg) || got != nil {
		e.t.Fatalf("%s adding keys: %s, want %s %q", p.Name, summary(got, err), code, msg)
	}
	e.same(before)
}

// key is the stored key with fingerprint fp (which must be held).
func (e *env) key(fp string) meta.PGPKey {
	e.t.Helper()
	k, err := e.st.GetPGPKey(e.ctx, fp)
	if err != nil {
		e.t.Fatalf("key %s: %v", fp, err)
	}
	return k
}

// newKey is an EdDSA key (quick to make) created an hour ago.
func newKey(t *testing.T, name string) *openpgp.Entity {
	return keyservertest.NewEntity(t, name, strings.ToLower(name)+"@example.org")
}

// withConfig makes an EdDSA key with c's options (times, lifetime).
func withConfig(t *testing.T, name string, c *packet.Config) *openpgp.Entity {
	t.Helper()
	if c.Algorithm == 0 {
		c.Algorithm = packet.PubKeyAlgoEdDSA
	}
	e, err := openpgp.NewEntity(name, "", strings.ToLower(name)+"@example.org", c)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func pub(t *testing.T, e *openpgp.Entity) string { return keyservertest.Armored(t, e) }

func fpOf(e *openpgp.Entity) string { return fmt.Sprintf("%X", e.PrimaryKey.Fingerprint) }

// keyring is the public keys of es in one armored block.
func keyring(t *testing.T, es ...*openpgp.Entity) string {
	t.Helper()
	var b bytes.Buffer
	for _, e := range es {
		if err := e.Serialize(&b); err != nil {
			t.Fatal(err)
		}
	}
	return keyservertest.ArmorBytes(t, openpgp.PublicKeyType, b.Bytes())
}

// fingerprints is the fingerprints of keys, in order.
func fingerprints(keys []meta.PGPKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.Fingerprint
	}
	return out
}

// fixed is a clock for go-crypto stopped at t.
func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

// summary is what Add answered, short.
func summary(got []pgpkeys.Added, err error) string {
	var b strings.Builder
	for _, a := range got {
		fmt.Fprintf(&b, "%s owner=%s replaced=%v unchanged=%v; ", a.Key.Fingerprint, a.Key.OwnerName, a.Replaced, a.Unchanged)
	}
	return fmt.Sprintf("[%s] err=%v", b.String(), err)
}
