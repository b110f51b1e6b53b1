package pgpkeys_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/pgpkeys"
)

// A key new to the server is stored as its adder's, with what go-crypto
// read of it; the keyring generation moves and the change is announced.
func TestAddStoresTheKeyForItsAdder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgpkeys.Config{})
	a := newKey(t, "Alice")
	fp := fpOf(a)

	e.refused(auth.Principal{}, pub(t, a), apperr.Unauthenticated, "authentication required to add keys")

	before := e.state()
	got := e.add(e.alice, pub(t, a))
	if len(got) != 1 || got[0].Key.Fingerprint != fp || got[0].Replaced || got[0].Unchanged || got[0].Key.OwnerName != "alice" {
		t.Fatalf("added: %+v", got)
	}
	k := e.key(fp)
	bits, _ := a.PrimaryKey.BitLength()
	sub := a.Subkeys[0].PublicKey
	wantIDs := []meta.PGPKeyID{
		{Fingerprint: fp, KeyID: fmt.Sprintf("%016X", a.PrimaryKey.KeyId), ShortID: fmt.Sprintf("%08X", uint32(a.PrimaryKey.KeyId))},
		{Fingerprint: fmt.Sprintf("%X", sub.Fingerprint), KeyID: fmt.Sprintf("%016X", sub.KeyId), ShortID: fmt.Sprintf("%08X", uint32(sub.KeyId))},
	}
	if k.OwnerID != e.alice.UserID || k.OwnerName != "alice" || k.Algorithm != int(packet.PubKeyAlgoEdDSA) ||
		k.Bits != int(bits) || !k.CreatedAt.Equal(a.PrimaryKey.CreationTime) || !k.ExpiresAt.IsZero() || k.Revoked ||
		!slices.Equal(k.UserIDs, []string{"Alice <alice@example.org>"}) || !slices.Equal(k.IDs, wantIDs) {
		t.Fatalf("stored: %+v\nwant IDs %+v", k, wantIDs)
	}
	// The stored copy is the public key, whole, and nothing more.
	el, err := openpgp.ReadArmoredKeyRing(strings.NewReader(k.Armored))
	if err != nil || len(el) != 1 || fpOf(el[0]) != fp || el[0].PrivateKey != nil || len(el[0].Subkeys) != 1 ||
		el[0].Subkeys[0].PrivateKey != nil || len(el[0].Identities) != 1 {
		t.Fatalf("stored armored key: %v %v", el, err)
	}
	after := e.state()
	if len(after.keys) != 1 || after.gen <= before.gen || after.changes != before.changes+1 {
		t.Fatalf("generation %d -> %d, changes %d -> %d", before.gen, after.gen, before.changes, after.changes)
	}
}

// userIDs adds names to e as further user IDs.
func userIDs(t *testing.T, e *openpgp.Entity, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := e.AddUserId(n, "", "", nil); err != nil {
			t.Fatal(err)
		}
	}
}

// The same copy pushed again, by anyone, changes nothing: not the key,
// not the generation, no change announced. A key with several user IDs
// is the case that matters: go-crypto keeps them in a map.
func TestSameCopyChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgpkeys.Config{})
	a := newKey(t, "Alice")
	userIDs(t, a, "Alice Work", "Alice Home", "Alice Lab", "Alice Club")
	text := pub(t, a)
	e.add(e.alice, text)
	before := e.state()
	for i := range 10 {
		for _, p := range []auth.Principal{e.alice, e.bob, e.root} {
			got, err := e.svc.Add(e.ctx, p, text)
			if err != nil || len(got) != 1 || !got[0].Unchanged || got[0].Replaced || got[0].Key.OwnerName != "alice" {
				t.Fatalf("push %d of the same copy by %s: %v", i, p.Name, summary(got, err))
			}
		}
	}
	e.same(before)
}

// Its owner alone replaces a key: a different copy from anyone else,
// administrators included, is refused and changes nothing.
func TestOwnerAloneReplaces(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgpkeys.Config{})
	a := newKey(t, "Alice")
	fp := fpOf(a)
	e.add(e.alice, pub(t, a))
	first := e.key(fp)

	userIDs(t, a, "Alice Work")
	for _, p := range []auth.Principal{e.bob, e.root} {
		e.refused(p, pub(t, a), apperr.Denied,
			"permission denied: key "+fp+" was added by another user; only they may replace it")
	}
	// All or nothing: bob's own new key goes down with the refused one.
	b := newKey(t, "Bob")
	e.refused(e.bob, keyring(t, b, a), apperr.Denied, "added by another user")
	if _, err := e.st.GetPGPKey(e.ctx, fpOf(b)); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("bob's key after the refusal: %v", err)
	}

	before := e.state()
	got := e.add(e.alice, pub(t, a))
	k := e.key(fp)
	if len(got) != 1 || !got[0].Replaced || got[0].Unchanged ||
		!slices.Equal(k.UserIDs, []string{"Alice <alice@example.org>", "Alice Work"}) ||
		k.OwnerID != e.alice.UserID || !k.AddedAt.Equal(first.AddedAt) || !got[0].Key.AddedAt.Equal(first.AddedAt) ||
		k.Armored == first.Armored {
		t.Fatalf("replaced: %+v\nstored %+v", got, k)
	}
	if after := e.state(); after.gen <= before.gen || after.changes != before.changes+1 {
		t.Fatalf("a replacement left generation %d, changes %d", after.gen, after.changes)
	}
}

// Once a revoked copy is held, a copy without the revocation cannot
// replace it, even its owner's and even with more in it.
func TestRevocationStays(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgpkeys.Config{})
	a := newKey(t, "Alice")
	fp := fpOf(a)
	e.add(e.alice, pub(t, a))
	userIDs(t, a, "Alice Work")
	unrevoked := pub(t, a)
	if err := a.RevokeKey(packet.KeyCompromised, "stolen", nil); err != nil {
		t.Fatal(err)
	}
	revoked := pub(t, a)
	if got := e.add(e.alice, revoked); len(got) != 1 || !got[0].Replaced || !got[0].Key.Revoked || !e.key(fp).Revoked {
		t.Fatalf("revoking: %+v", got)
	}
	e.refused(e.alice, unrevoked, apperr.Conflict,
		"key "+fp+" is revoked here; a copy without its revocation cannot replace it")
	// The revoked copy itself, from anyone, is the copy held.
	if got := e.add(e.bob, revoked); len(got) != 1 || !got[0].Unchanged || !got[0].Key.Revoked {
		t.Fatalf("the revoked copy again: %+v", got)
	}
}

// A user holds at most MaxKeysPerUser keys; replacing one at the limit
// is still taken; others' keys do not count.
func TestPerUserKeyLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgpkeys.Config{MaxKeysPerUser: 3})
	k1, k2, k3, k4 := newKey(t, "One"), newKey(t, "Two"), newKey(t, "Three"), newKey(t, "Four")
	e.refused(e.alice, keyring(t, k1, k2, k3, k4), apperr.Denied,
		"permission denied: a user may hold at most 3 keys; remove some first")
	e.add(e.alice, keyring(t, k1, k2))
	e.add(e.alice, pub(t, k3))
	e.refused(e.alice, pub(t, k4), apperr.Denied, "a user may hold at most 3 keys")

	userIDs(t, k3, "Three Again")
	if got := e.add(e.alice, pub(t, k3)); !got[0].Replaced {
		t.Fatalf("replacing at the limit: %+v", got)
	}
	e.add(e.bob, pub(t, k4))
	if err := e.svc.Remove(e.ctx, e.alice, fpOf(k1)); err != nil {
		t.Fatal(err)
	}
	e.add(e.alice, pub(t, newKey(t, "Five")))
}

// The default is the 64 keys docs/keyserver.md promises.
func TestDefaultPerUserKeyLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgpkeys.Config{})
	for range 4 {
		batch := make([]*openpgp.Entity, 16)
		for i := range batch {
			batch[i] = newKey(t, "Many")
		}
		e.add(e.alice, keyring(t, batch...))
	}
	e.refused(e.alice, pub(t, newKey(t, "Extra")), apperr.Denied, "a user may hold at most 64 keys")
	if keys, err := e.svc.List(e.ctx, "alice"); err != nil || len(keys) != 64 {
		t.Fatalf("alice holds %d keys: %v", len(keys), err)
	}
}

// Its owner or an administrator removes a key; anyone else is refused
// with the owner's name (keys are public: nothing to hide), and the key
// stays.
func TestRemove(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgpkeys.Config{})
	a, b := newKey(t, "Alice"), newKey(t, "Bob")
	e.add(e.alice, pub(t, a))
	e.add(e.bob, pub(t, b))
	fa, fb := fpOf(a), fpOf(b)

	for _, tc := range []struct {
		p        auth.Principal
		fp       string
		code     apperr.Code
		contains string
	}{
		{auth.Principal{}, fa, apperr.Unauthenticated, "authentication required to remove keys"},
		{e.bob, fa, apperr.Denied, "permission denied: key " + fa + " belongs to alice"},
		{e.alice, fa[24:], apperr.Invalid, "want the 40 (or 64) hex digits"},
		{e.alice, "not a fingerprint", apperr.Invalid, "invalid fingerprint"},
		{e.alice, strings.Repeat("AB", 20), apperr.NotFound, "no key with fingerprint " + strings.Repeat("AB", 20)},
	} {
		before := e.state()
		err := e.svc.Remove(e.ctx, tc.p, tc.fp)
		if !apperr.Is(err, tc.code) || !strings.Contains(apperr.MessageOf(err), tc.contains) {
			t.Fatalf("%q removing %s: %v, want %s %q", tc.p.Name, tc.fp, err, tc.code, tc.contains)
		}
		e.same(before)
	}

	// The owner, with the fingerprint as clients write it.
	before := e.state()
	if err := e.svc.Remove(e.ctx, e.alice, "0x"+strings.ToLower(fa)); err != nil {
		t.Fatal(err)
	}
	after := e.state()
	if _, held := after.keys[fa]; held || len(after.keys) != 1 || after.gen <= before.gen || after.changes != before.changes+1 {
		t.Fatalf("after alice's removal: %d keys, generation %d -> %d", len(after.keys), before.gen, after.gen)
	}
	if err := e.svc.Remove(e.ctx, e.alice, fa); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("removing it again: %v", err)
	}
	// An administrator removes anyone's.
	if err := e.svc.Remove(e.ctx, e.root, fb); err != nil {
		t.Fatal(err)
	}
	if s := e.state(); len(s.keys) != 0 {
		t.Fatalf("%d keys left", len(s.keys))
	}
}

// Anyone lists a user's keys (or all); Mine lists one's own with their
// expiry as of the service's clock.
func TestListAndMine(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgpkeys.Config{})
	created := e.clock.Now().Add(-time.Hour)
	a1 := withConfig(t, "Alice", &packet.Config{Time: fixed(created), KeyLifetimeSecs: 2 * 3600})
	a2 := newKey(t, "Alice2")
	b := newKey(t, "Bob")
	e.add(e.alice, keyring(t, a1, a2))
	e.add(e.bob, pub(t, b))

	want := []string{fpOf(a1), fpOf(a2)}
	slices.Sort(want)
	all := append([]string{fpOf(b)}, want...)
	slices.Sort(all)
	for _, tc := range []struct {
		owner string
		want  []string
	}{{"alice", want}, {"bob", []string{fpOf(b)}}, {"root", []string{}}, {"", all}} {
		keys, err := e.svc.List(e.ctx, tc.owner)
		if err != nil || !slices.Equal(fingerprints(keys), tc.want) {
			t.Fatalf("List(%q): %v %v, want %v", tc.owner, fingerprints(keys), err, tc.want)
		}
	}
	if _, err := e.svc.List(e.ctx, "nobody"); !apperr.Is(err, apperr.NotFound) || apperr.MessageOf(err) != "no user nobody" {
		t.Fatalf("List of an unknown user: %v", err)
	}

	if _, err := e.svc.Mine(e.ctx, auth.Principal{}); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("anonymous Mine: %v", err)
	}
	expired := func() map[string]bool {
		mine, err := e.svc.Mine(e.ctx, e.alice)
		if err != nil || len(mine) != 2 {
			t.Fatalf("Mine: %+v %v", mine, err)
		}
		out := map[string]bool{}
		for _, k := range mine {
			out[k.Fingerprint] = k.Expired
		}
		return out
	}
	if got := expired(); got[fpOf(a1)] || got[fpOf(a2)] {
		t.Fatalf("expired before the time: %v", got)
	}
	e.clock.Add(time.Hour) // the lifetime's end, to the second
	if got := expired(); !got[fpOf(a1)] || got[fpOf(a2)] {
		t.Fatalf("expired at the lifetime's end: %v", got)
	}
}

// A revocation made on a clock ahead of the server's revokes the key
// all the same: the flag is kept as read, so a copy without the
// revocation could otherwise replace it later.
func TestRevocationDatedAheadStays(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgpkeys.Config{})
	a := newKey(t, "Alice")
	fp := fpOf(a)
	unrevoked := pub(t, a)
	e.add(e.alice, unrevoked)
	if err := a.RevokeKey(packet.KeySuperseded, "new key", &packet.Config{Time: fixed(e.clock.Now().Add(5 * time.Minute))}); err != nil {
		t.Fatal(err)
	}
	if got := e.add(e.alice, pub(t, a)); !got[0].Replaced || !got[0].Key.Revoked || !e.key(fp).Revoked {
		t.Fatalf("a revocation dated 5 minutes ahead: %v, stored revoked=%v", summary(got, nil), e.key(fp).Revoked)
	}
	e.refused(e.alice, unrevoked, apperr.Conflict, "is revoked here")
}
