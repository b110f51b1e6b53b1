package pgpkeys_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/keyserver/keyservertest"
	"github.com/silo-hpc/silo/internal/pgpkeys"
)

// serializer is a packet as go-crypto writes it.
type serializer interface{ Serialize(w io.Writer) error }

// packets is a public key block of ps, serialized as they are (no
// signature made): what a hostile client can send.
func packets(t *testing.T, ps ...serializer) string {
	t.Helper()
	var b bytes.Buffer
	for _, p := range ps {
		if err := p.Serialize(&b); err != nil {
			t.Fatal(err)
		}
	}
	return keyservertest.ArmorBytes(t, openpgp.PublicKeyType, b.Bytes())
}

// repeat is n times p.
func repeat[P any](p P, n int) []P {
	out := make([]P, n)
	for i := range out {
		out[i] = p
	}
	return out
}

func rsaKey(t *testing.T, bits int) *openpgp.Entity {
	t.Helper()
	// 1,024 bits is the least go-crypto (and Go's crypto/rsa) generate.
	e, err := openpgp.NewEntity("Small", "", "small@example.org", &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: bits})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// refusal is a submission docs/keyserver.md's "Hostile keys" refuses.
type refusal struct {
	name, text string
	code       apperr.Code
	msg        string
}

// refuseAll wants each submission refused with its class and message,
// and nothing stored, no generation, no change announced.
func refuseAll(t *testing.T, cases []refusal) {
	e := newEnv(t, pgpkeys.Config{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			defer func() { e.t = nil }()
			e.refused(e.alice, tc.text, tc.code, tc.msg)
		})
	}
	e.t = t
	if s := e.state(); len(s.keys) != 0 || s.gen != 0 || s.changes != 0 {
		t.Fatalf("after the refusals: %d keys, generation %d, %d changes", len(s.keys), s.gen, s.changes)
	}
}

// Text that is not a public key block, or one over the limits.
func TestMalformedSubmissionsAreRefused(t *testing.T) {
	t.Parallel()
	good := newKey(t, "Good")
	pk := good.PrimaryKey
	var private bytes.Buffer
	w, _ := armor.Encode(&private, openpgp.PrivateKeyType, nil)
	if err := good.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var privatePackets bytes.Buffer
	if err := good.SerializePrivate(&privatePackets, nil); err != nil {
		t.Fatal(err)
	}
	noise := make([]byte, 64<<10)
	rand.Read(noise)
	huge := keyservertest.ArmorBytes(t, openpgp.PublicKeyType, make([]byte, 200<<10))
	selfSig := good.Identities["Good <good@example.org>"].SelfSignature

	refuseAll(t, []refusal{
		{"key text over 256 KiB", huge, apperr.TooLarge,
			fmt.Sprintf("key text of %d bytes, more than the 262144 accepted", len(huge))},
		{"not armored", "hello", apperr.Invalid, "invalid key text: not an ASCII-armored OpenPGP key ("},
		{"malformed armor", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!not base64!!!\n-----END PGP PUBLIC KEY BLOCK-----\n",
			apperr.Invalid, "invalid key text: "},
		{"armored noise", keyservertest.ArmorBytes(t, openpgp.PublicKeyType, noise), apperr.Invalid, "invalid key text: "},
		{"an empty block", keyservertest.ArmorBytes(t, openpgp.PublicKeyType, nil), apperr.Invalid, "invalid key text: no public key in it"},
		{"a private key block", private.String(), apperr.Invalid,
			"invalid key text: this is a private key: push the public key only"},
		{"private packets in a public block", keyservertest.ArmorBytes(t, openpgp.PublicKeyType, privatePackets.Bytes()), apperr.Invalid,
			"invalid key text: it holds private key material: push the public key only"},
		{"a signature block", keyservertest.ArmorBytes(t, "PGP SIGNATURE", []byte{1, 2, 3}), apperr.Invalid,
			`invalid key text: an armored "PGP SIGNATURE", not a public key block`},
		{"a user ID first", packets(t, packet.NewUserId("Lost", "", ""), pk), apperr.Invalid,
			"invalid key text: it does not start with a public key"},
		{"seventeen keys", keyring(t, repeat(good, 17)...), apperr.Invalid,
			"invalid key text: more than 16 keys in one submission"},
		{"thousands of bare user IDs", packets(t, append([]serializer{pk}, repeat[serializer](packet.NewUserId("u", "", ""), 5000)...)...),
			apperr.Invalid, "invalid key text: a key with more than 64 user IDs"},
		{"513 signatures", packets(t, append([]serializer{pk, packet.NewUserId("Good", "", "good@example.org")},
			repeat[serializer](selfSig, 513)...)...),
			apperr.Invalid, "invalid key text: a key with more than 512 signatures"},
	})
}

// Keys refused for what they hold: too much, unprintable user IDs, no
// self-signed user ID, weak RSA.
func TestUnacceptableKeysAreRefused(t *testing.T) {
	t.Parallel()
	manyUIDs := newKey(t, "Many")
	for i := range 65 {
		userIDs(t, manyUIDs, fmt.Sprint("uid ", i))
	}
	manySubkeys := newKey(t, "Subkeys")
	for range 32 { // and the encryption subkey of NewEntity: 33
		if err := manySubkeys.AddSigningSubkey(&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA}); err != nil {
			t.Fatal(err)
		}
	}
	longUID, control, badUTF8 := newKey(t, "Long"), newKey(t, "Control"), newKey(t, "UTF8")
	userIDs(t, longUID, strings.Repeat("x", 1025))
	userIDs(t, control, "bell\x07")
	userIDs(t, badUTF8, "caf\xe9")
	weakSub := newKey(t, "WeakSub")
	if err := weakSub.AddSigningSubkey(&packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 1024}); err != nil {
		t.Fatal(err)
	}
	// A v6 key need not have a user ID (go-crypto reads it without one);
	// Silo wants one.
	v6 := withConfig(t, "Six", &packet.Config{Algorithm: packet.PubKeyAlgoEd25519, V6Keys: true})
	clear(v6.Identities)
	// A user ID signed by another key only: go-crypto cannot read the key.
	good, other := newKey(t, "Good"), newKey(t, "Other")
	foreign := packets(t, good.PrimaryKey, packet.NewUserId("Mallory", "", ""),
		other.Identities["Other <other@example.org>"].SelfSignature)

	refuseAll(t, []refusal{
		{"65 user IDs", pub(t, manyUIDs), apperr.Invalid, "invalid key text: a key with more than 64 user IDs"},
		{"33 subkeys", pub(t, manySubkeys), apperr.Invalid, "invalid key text: a key with more than 32 subkeys"},
		{"a user ID of 1025 bytes", pub(t, longUID), apperr.Invalid, "invalid key text: a user ID of 1025 bytes, more than 1024"},
		{"a control character", pub(t, control), apperr.Invalid, "has a user ID with control characters or invalid UTF-8"},
		{"invalid UTF-8", pub(t, badUTF8), apperr.Invalid, "has a user ID with control characters or invalid UTF-8"},
		{"no user ID", pub(t, v6), apperr.Invalid, "has no user ID with a valid self-signature"},
		{"no self-signature", foreign, apperr.Invalid, "invalid key text: "},
		{"RSA of 1024 bits", pub(t, rsaKey(t, 1024)), apperr.Invalid, "is RSA of 1024 bits, fewer than the 2048 accepted"},
		{"an RSA subkey of 1024 bits", pub(t, weakSub), apperr.Invalid, "is RSA of 1024 bits, fewer than the 2048 accepted"},
	})
}

// All or nothing: a key go-crypto cannot read, beside a good one,
// refuses the submission (go-crypto's ReadKeyRing would skip it).
func TestUnreadableKeyRefusesTheSubmission(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgpkeys.Config{})
	good, other := newKey(t, "Good"), newKey(t, "Other")
	var b bytes.Buffer
	if err := good.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	// Other's primary key with a user ID it did not sign.
	for _, p := range []interface{ Serialize(io.Writer) error }{other.PrimaryKey, packet.NewUserId("Mallory", "", ""),
		good.Identities["Good <good@example.org>"].SelfSignature} {
		if err := p.Serialize(&b); err != nil {
			t.Fatal(err)
		}
	}
	e.refused(e.alice, keyservertest.ArmorBytes(t, openpgp.PublicKeyType, b.Bytes()), apperr.Invalid, "invalid key text: key 2 of the submission: ")

	// A primary key of an algorithm go-crypto does not know (99), with
	// its user ID: the packet reader skips the key, not the user ID.
	var unknown bytes.Buffer
	unknown.Write([]byte{0xC6, 9, 4, 0x60, 0, 0, 0, 99, 0, 8, 0xFF})
	if err := packet.NewUserId("Future", "", "future@example.org").Serialize(&unknown); err != nil {
		t.Fatal(err)
	}
	alone := keyservertest.ArmorBytes(t, openpgp.PublicKeyType, unknown.Bytes())
	e.refused(e.alice, alone, apperr.Invalid, "invalid key text: a key of a kind not supported (")
	var mixed bytes.Buffer
	if err := good.Serialize(&mixed); err != nil {
		t.Fatal(err)
	}
	mixed.Write(unknown.Bytes())
	e.refused(e.alice, keyservertest.ArmorBytes(t, openpgp.PublicKeyType, mixed.Bytes()), apperr.Invalid, "a key of a kind not supported")
}

// The limits are Limits' fields: at the limit is taken, one over is not.
func TestLimitsAreExact(t *testing.T) {
	t.Parallel()
	k := newKey(t, "Edge")
	userIDs(t, k, strings.Repeat("y", 1024)) // the longest user ID taken
	for range 62 {                           // 64 user IDs in all
		userIDs(t, k, fmt.Sprint("uid ", len(k.Identities)))
	}
	for range 31 { // 32 subkeys in all
		if err := k.AddSigningSubkey(&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA}); err != nil {
			t.Fatal(err)
		}
	}
	text := pub(t, k)

	e := newEnv(t, pgpkeys.Config{Limits: pgpkeys.Limits{MaxText: len(text) - 1}})
	e.refused(e.alice, text, apperr.TooLarge, fmt.Sprintf("key text of %d bytes, more than the %d accepted", len(text), len(text)-1))
	e.configure(pgpkeys.Config{Limits: pgpkeys.Limits{MaxText: len(text)}})
	if got := e.add(e.alice, text); len(got) != 1 || len(got[0].Key.UserIDs) != 64 || len(got[0].Key.IDs) != 33 {
		t.Fatalf("a key at every limit: %v", summary(got, nil))
	}

	// 16 keys in one submission are taken.
	batch := make([]*openpgp.Entity, 16)
	for i := range batch {
		batch[i] = newKey(t, "Batch")
	}
	if got := e.add(e.bob, keyring(t, batch...)); len(got) != 16 {
		t.Fatalf("16 keys: %v", summary(got, nil))
	}

	// A small key at its limits (2 signature packets: the self-signature
	// and the subkey's binding), and one over each.
	small := newKey(t, "Sigs")
	uidLen := len("Sigs <sigs@example.org>")
	e.configure(pgpkeys.Config{Limits: pgpkeys.Limits{MaxSignatures: 1}})
	e.refused(e.alice, pub(t, small), apperr.Invalid, "a key with more than 1 signatures")
	e.configure(pgpkeys.Config{Limits: pgpkeys.Limits{MaxUserIDLen: uidLen - 1}})
	e.refused(e.alice, pub(t, small), apperr.Invalid, fmt.Sprintf("a user ID of %d bytes, more than %d", uidLen, uidLen-1))
	e.configure(pgpkeys.Config{Limits: pgpkeys.Limits{MaxSignatures: 2, MaxKeys: 1, MaxUserIDs: 1, MaxSubkeys: 1, MaxUserIDLen: uidLen}})
	e.add(e.alice, pub(t, small))
	e.refused(e.alice, keyring(t, small, newKey(t, "Two")), apperr.Invalid, "more than 1 keys")
}

// MinRSABits is the least RSA size taken (for subkeys too:
// TestUnacceptableKeysAreRefused).
func TestRSABits(t *testing.T) {
	t.Parallel()
	k := rsaKey(t, 1024) // an RSA primary key and an RSA subkey
	e := newEnv(t, pgpkeys.Config{Limits: pgpkeys.Limits{MinRSABits: 1025}})
	e.refused(e.alice, pub(t, k), apperr.Invalid, "is RSA of 1024 bits, fewer than the 1025 accepted")
	e.configure(pgpkeys.Config{Limits: pgpkeys.Limits{MinRSABits: 1024}})
	got := e.add(e.alice, pub(t, k))
	if len(got) != 1 || got[0].Key.Algorithm != int(packet.PubKeyAlgoRSA) || got[0].Key.Bits != 1024 {
		t.Fatalf("RSA 1024 with MinRSABits 1024: %+v", got[0].Key)
	}
}

// Expired and revoked keys are taken (a keyserver distributes what
// exists) and shown as such.
func TestExpiredAndRevokedKeysAreTaken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgpkeys.Config{})
	created := e.clock.Now().Add(-48 * time.Hour)
	old := withConfig(t, "Old", &packet.Config{Time: fixed(created), KeyLifetimeSecs: 3600})
	gone := newKey(t, "Gone")
	if err := gone.RevokeKey(packet.KeyRetired, "retired", &packet.Config{Time: fixed(e.clock.Now().Add(-time.Minute))}); err != nil {
		t.Fatal(err)
	}
	got := e.add(e.alice, keyring(t, old, gone))
	if len(got) != 2 {
		t.Fatalf("added %v", summary(got, nil))
	}
	k := e.key(fpOf(old))
	if !k.ExpiresAt.Equal(created.Add(time.Hour)) || k.Revoked {
		t.Fatalf("expired key stored as %v revoked=%v", k.ExpiresAt, k.Revoked)
	}
	if k := e.key(fpOf(gone)); !k.Revoked || !k.ExpiresAt.IsZero() {
		t.Fatalf("revoked key stored as revoked=%v expires %v", k.Revoked, k.ExpiresAt)
	}
	keys, _, err := e.svc.Index(e.ctx, pgpkeys.Query{Text: "example.org"})
	if err != nil || len(keys) != 2 {
		t.Fatalf("index: %v %v", keys, err)
	}
	for _, k := range keys {
		if want := k.Fingerprint == fpOf(old); k.Expired != want || k.Revoked == want {
			t.Fatalf("%s (%v): expired=%v revoked=%v", k.Fingerprint, k.UserIDs, k.Expired, k.Revoked)
		}
	}
}
