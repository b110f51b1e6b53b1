package pgpkeys_test

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/pgpkeys"
)

// got reads what Get answered: one armored public key block.
func got(t *testing.T, text string) []string {
	t.Helper()
	if n := strings.Count(text, "-----BEGIN PGP PUBLIC KEY BLOCK-----"); n != 1 {
		t.Fatalf("%d armored blocks", n)
	}
	el, err := openpgp.ReadArmoredKeyRing(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range el {
		if e.PrivateKey != nil {
			t.Fatalf("key %s handed out with its private key", fpOf(e))
		}
		out = append(out, fpOf(e))
	}
	return out
}

func keyIDs(pk *packet.PublicKey) (long, short string) {
	return fmt.Sprintf("%016X", pk.KeyId), fmt.Sprintf("%08X", uint32(pk.KeyId))
}

// Keys are found by a primary or subkey fingerprint, 64- or 32-bit key
// ID, text in a user ID (case ignored), or a whole user ID or e-mail
// address (Exact); the answer is always the whole key.
func TestGetAndIndexFind(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgpkeys.Config{})
	a, b := newKey(t, "Alice"), newKey(t, "Bob")
	userIDs(t, a, "Alice Liddell")
	e.add(e.alice, pub(t, a))
	e.add(e.bob, pub(t, b))
	fa, fb := fpOf(a), fpOf(b)
	both := []string{fa, fb}
	slices.Sort(both)
	sub := a.Subkeys[0].PublicKey
	long, short := keyIDs(a.PrimaryKey)
	subLong, subShort := keyIDs(sub)

	for _, tc := range []struct {
		q    pgpkeys.Query
		want []string
	}{
		{pgpkeys.Query{Fingerprint: fa}, []string{fa}},
		{pgpkeys.Query{Fingerprint: fmt.Sprintf("%X", sub.Fingerprint)}, []string{fa}},
		{pgpkeys.Query{KeyID: long}, []string{fa}},
		{pgpkeys.Query{KeyID: subLong}, []string{fa}},
		{pgpkeys.Query{ShortID: short}, []string{fa}},
		{pgpkeys.Query{ShortID: subShort}, []string{fa}},
		{pgpkeys.Query{Text: "LIDDELL"}, []string{fa}},
		{pgpkeys.Query{Text: "  bob@example  "}, []string{fb}},
		{pgpkeys.Query{Text: "example.org"}, both},
		{pgpkeys.Query{Text: "alice@example.org", Exact: true}, []string{fa}},
		{pgpkeys.Query{Text: "ALICE LIDDELL", Exact: true}, []string{fa}},
		{pgpkeys.Query{Text: "Alice <alice@example.org>", Exact: true}, []string{fa}},
		// The fingerprint wins over the other fields (meta.PGPKeyQuery).
		{pgpkeys.Query{Fingerprint: fb, Text: "alice"}, []string{fb}},
	} {
		text, err := e.svc.Get(e.ctx, tc.q)
		if err != nil {
			t.Fatalf("Get %+v: %v", tc.q, err)
		}
		if g := got(t, text); !slices.Equal(g, tc.want) {
			t.Fatalf("Get %+v: %v, want %v", tc.q, g, tc.want)
		}
		keys, more, err := e.svc.Index(e.ctx, tc.q)
		if err != nil || more || !slices.Equal(fingerprints(unwrap(keys)), tc.want) {
			t.Fatalf("Index %+v: %v more=%v %v, want %v", tc.q, fingerprints(unwrap(keys)), more, err, tc.want)
		}
	}

	// The index shows what was stored (its user IDs, sorted).
	keys, _, _ := e.svc.Index(e.ctx, pgpkeys.Query{Fingerprint: fa})
	if k := keys[0]; k.OwnerName != "alice" || !slices.Equal(k.UserIDs, []string{"Alice <alice@example.org>", "Alice Liddell"}) ||
		len(k.IDs) != 2 || k.Expired || k.Revoked {
		t.Fatalf("index entry: %+v", k)
	}

}

// What matches nothing is NotFound "no keys match"; an empty search is
// Invalid.
func TestGetAndIndexMiss(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgpkeys.Config{})
	a := newKey(t, "Alice")
	userIDs(t, a, "Alice Liddell")
	e.add(e.alice, pub(t, a))
	e.add(e.bob, pub(t, newKey(t, "Bob")))
	for _, q := range []pgpkeys.Query{
		{Fingerprint: strings.Repeat("0", 40)}, {KeyID: "0123456789ABCDEF"}, {ShortID: "01234567"},
		{Text: "carol"}, {Text: "alice", Exact: true}, {Text: "example.org", Exact: true},
		// LIKE's wildcards are text like any other.
		{Text: "%"}, {Text: "_"}, {Text: "alice%example"},
	} {
		if _, err := e.svc.Get(e.ctx, q); !apperr.Is(err, apperr.NotFound) || apperr.MessageOf(err) != "no keys match" {
			t.Fatalf("Get %+v: %v", q, err)
		}
		if _, _, err := e.svc.Index(e.ctx, q); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("Index %+v: %v", q, err)
		}
	}
	for _, q := range []pgpkeys.Query{{}, {Text: "   "}, {Exact: true}} {
		if _, err := e.svc.Get(e.ctx, q); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("Get %+v: %v", q, err)
		}
		if _, _, err := e.svc.Index(e.ctx, q); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("Index %+v: %v", q, err)
		}
	}
}

func unwrap(keys []pgpkeys.Key) []meta.PGPKey {
	out := make([]meta.PGPKey, len(keys))
	for i, k := range keys {
		out[i] = k.PGPKey
	}
	return out
}

// A lookup answers at most MaxPage (100) keys, by fingerprint; Index
// pages them and tells whether more follow.
func TestLookupLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgpkeys.Config{MaxKeysPerUser: 200})
	var all []string
	for range 7 {
		batch := make([]*openpgp.Entity, 15)
		for i := range batch {
			batch[i] = newKey(t, "Flood")
			all = append(all, fpOf(batch[i]))
		}
		e.add(e.alice, keyring(t, batch...))
	}
	slices.Sort(all) // 105 keys
	q := pgpkeys.Query{Text: "flood"}

	for _, limit := range []int{0, 500} {
		q.Limit = limit
		text, err := e.svc.Get(e.ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if g := got(t, text); !slices.Equal(g, all[:pgpkeys.MaxPage]) {
			t.Fatalf("Get with limit %d answered %d keys, want the first %d", limit, len(g), pgpkeys.MaxPage)
		}
	}

	for _, tc := range []struct {
		limit, offset int
		want          []string
		more          bool
	}{
		{0, 0, all[:100], true},
		{500, 0, all[:100], true},
		{100, 5, all[5:], false},
		{40, 0, all[:40], true},
		{40, 40, all[40:80], true},
		{40, 80, all[80:], false},
		{1, 104, all[104:], false},
		{25, 80, all[80:], false}, // exactly the rest
	} {
		q.Limit, q.Offset = tc.limit, tc.offset
		keys, more, err := e.svc.Index(e.ctx, q)
		if err != nil || more != tc.more || !slices.Equal(fingerprints(unwrap(keys)), tc.want) {
			t.Fatalf("Index limit %d offset %d: %d keys more=%v %v, want %d more=%v",
				tc.limit, tc.offset, len(keys), more, err, len(tc.want), tc.more)
		}
	}
}

// Index and Mine say a key has expired once the service's clock reaches
// its expiry.
func TestIndexShowsExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgpkeys.Config{})
	created := e.clock.Now().Add(-time.Hour)
	k := withConfig(t, "Soon", &packet.Config{Time: fixed(created), KeyLifetimeSecs: 7200})
	e.add(e.alice, pub(t, k))
	expiry := func() (time.Time, bool) {
		keys, _, err := e.svc.Index(e.ctx, pgpkeys.Query{Text: "soon"})
		if err != nil || len(keys) != 1 {
			t.Fatalf("index: %v %v", keys, err)
		}
		return keys[0].ExpiresAt, keys[0].Expired
	}
	if at, expired := expiry(); !at.Equal(created.Add(2*time.Hour)) || expired {
		t.Fatalf("an hour before: expires %v, expired %v", at, expired)
	}
	e.clock.Add(time.Hour - time.Second)
	if _, expired := expiry(); expired {
		t.Fatal("expired a second early")
	}
	e.clock.Add(time.Second)
	if _, expired := expiry(); !expired {
		t.Fatal("not expired at its expiry")
	}
}

// SigningKeys answers the held keys among the fingerprints asked (as
// entities that verify their signatures), their owners, and the keyring
// generation, which every change moves and nothing else does.
func TestSigningKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgpkeys.Config{})
	el, owners, gen, err := e.svc.SigningKeys(e.ctx, []string{strings.Repeat("A", 40)})
	if err != nil || len(el) != 0 || len(owners) != 0 || gen != 0 {
		t.Fatalf("no keys: %v %v %d %v", el, owners, gen, err)
	}

	a, b := newKey(t, "Alice"), newKey(t, "Bob")
	e.add(e.alice, pub(t, a))
	e.add(e.bob, pub(t, b))
	fa, fb := fpOf(a), fpOf(b)
	missing := strings.Repeat("B", 40)
	sub := fmt.Sprintf("%X", a.Subkeys[0].PublicKey.Fingerprint)

	el, owners, gen, err = e.svc.SigningKeys(e.ctx, []string{fb, missing, fa, sub, fb})
	if err != nil || len(el) != 2 || fpOf(el[0]) != fb || fpOf(el[1]) != fa ||
		!maps.Equal(owners, map[string]string{fa: "alice", fb: "bob"}) || gen != e.state().gen {
		t.Fatalf("SigningKeys: %d keys, owners %v, generation %d (held %d), %v", len(el), owners, gen, e.state().gen, err)
	}
	// The entities check what their keys signed, and no other.
	var sig bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&sig, a, strings.NewReader("image"), nil); err != nil {
		t.Fatal(err)
	}
	if signer, err := openpgp.CheckArmoredDetachedSignature(el, strings.NewReader("image"), bytes.NewReader(sig.Bytes()), nil); err != nil ||
		fpOf(signer) != fa {
		t.Fatalf("checking alice's signature: %v", err)
	}
	if _, err := openpgp.CheckArmoredDetachedSignature(el, strings.NewReader("imagf"), bytes.NewReader(sig.Bytes()), nil); err == nil {
		t.Fatal("a signature of other bytes checked")
	}
	for _, x := range el {
		if x.PrivateKey != nil {
			t.Fatalf("key %s with its private key", fpOf(x))
		}
	}

}

// The keyring generation SigningKeys answers moves with each change, and
// only then; Config.Changed is called alike.
func TestKeyringGeneration(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgpkeys.Config{})
	a, b := newKey(t, "Alice"), newKey(t, "Bob")
	e.add(e.alice, pub(t, a))
	e.add(e.bob, pub(t, b))
	fa, fb := fpOf(a), fpOf(b)
	generation := func() int64 {
		_, _, g, err := e.svc.SigningKeys(e.ctx, []string{fa})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	step := func(what string, moves bool, do func()) {
		t.Helper()
		before, n := generation(), e.changes.Load()
		do()
		after := generation()
		if (after > before) != moves || (after < before) || (e.changes.Load() > n) != moves {
			t.Fatalf("%s: generation %d -> %d, changes %d -> %d", what, before, after, n, e.changes.Load())
		}
	}
	step("the same copy", false, func() { e.add(e.bob, pub(t, a)) })
	step("a refused copy", false, func() {
		userIDs(t, a, "Alice Work")
		e.refused(e.bob, pub(t, a), apperr.Denied, "added by another user")
	})
	step("a replacement", true, func() { e.add(e.alice, pub(t, a)) })
	step("a refused removal", false, func() {
		if err := e.svc.Remove(e.ctx, e.alice, fb); !apperr.Is(err, apperr.Denied) {
			t.Fatal(err)
		}
	})
	step("a removal", true, func() {
		if err := e.svc.Remove(e.ctx, e.bob, fb); err != nil {
			t.Fatal(err)
		}
	})
	el, owners, _, err := e.svc.SigningKeys(e.ctx, []string{fa, fb})
	if err != nil || len(el) != 1 || len(el[0].Identities) != 2 || !maps.Equal(owners, map[string]string{fa: "alice"}) {
		t.Fatalf("after the changes: %d keys, owners %v, %v", len(el), owners, err)
	}
}

// A stored key that cannot be read is left out of SigningKeys (and
// logged), not an error for the image being checked.
func TestSigningKeysSkipsUnreadableRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgpkeys.Config{})
	a := newKey(t, "Alice")
	e.add(e.alice, pub(t, a))
	var junk bytes.Buffer
	w, _ := armor.Encode(&junk, openpgp.PublicKeyType, nil)
	w.Write([]byte("not packets"))
	w.Close()
	bad := meta.PGPKey{Fingerprint: strings.Repeat("C", 40), OwnerID: e.bob.UserID, UserIDs: []string{"x"}, Armored: junk.String()}
	if err := e.st.PutPGPKey(e.ctx, &bad); err != nil {
		t.Fatal(err)
	}
	el, owners, _, err := e.svc.SigningKeys(e.ctx, []string{bad.Fingerprint, fpOf(a)})
	if err != nil || len(el) != 1 || fpOf(el[0]) != fpOf(a) || !maps.Equal(owners, map[string]string{fpOf(a): "alice"}) {
		t.Fatalf("SigningKeys: %d keys, owners %v, %v", len(el), owners, err)
	}
}

// A key stored revoked by a revocation dated ahead of the server's clock
// (TestRevocationDatedAheadStays) is revoked in the entities SigningKeys
// answers too: a check made before that date would otherwise find the
// key good, and nothing checks the images again when the date passes.
func TestSigningKeysHoldARevocationDatedAhead(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgpkeys.Config{})
	a := newKey(t, "Alice")
	var sig bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&sig, a, strings.NewReader("image"), nil); err != nil {
		t.Fatal(err)
	}
	e.add(e.alice, pub(t, a))
	check := func() error {
		t.Helper()
		el, _, _, err := e.svc.SigningKeys(e.ctx, []string{fpOf(a)})
		if err != nil || len(el) != 1 {
			t.Fatalf("SigningKeys: %d keys, %v", len(el), err)
		}
		_, err = openpgp.CheckArmoredDetachedSignature(el, strings.NewReader("image"), bytes.NewReader(sig.Bytes()), nil)
		return err
	}
	if err := check(); err != nil {
		t.Fatalf("before the revocation: %v", err)
	}
	if err := a.RevokeKey(packet.KeySuperseded, "new key", &packet.Config{Time: fixed(time.Now().Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	e.add(e.alice, pub(t, a))
	if err := check(); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("a key stored revoked (revocation dated an hour ahead) still checks signatures: %v", err)
	}
}
