package keyserver_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/silo-hpc/silo/internal/keyserver/keyservertest"
)

// Hostile or unacceptable keys are refused with a clear message in the
// protocol's error format, within fixed limits (each submission allocates
// under 64 MiB), and nothing of them is stored.
func TestHostileKeys(t *testing.T) {
	e := newEnv(t)
	good := keyservertest.NewEntity(t, "Good", "good@example.org")

	manyUIDs := keyservertest.NewEntity(t, "Many", "m@example.org")
	for i := range 800 {
		if err := manyUIDs.AddUserId(fmt.Sprint(i), "", "", nil); err != nil {
			t.Fatal(err)
		}
	}
	rsaSmall, err := openpgp.NewEntity("Small", "", "small@example.org", &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 1024})
	if err != nil {
		t.Fatal(err)
	}
	var private bytes.Buffer
	w, _ := armor.Encode(&private, openpgp.PrivateKeyType, nil)
	if err := good.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	noise := make([]byte, 100<<10)
	rand.Read(noise)
	expired, err := openpgp.NewEntity("Old", "", "old@example.org", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA,
		Time: func() time.Time { return time.Now().Add(-48 * time.Hour) }, KeyLifetimeSecs: 3600})
	if err != nil {
		t.Fatal(err)
	}
	flood := concatKeys(t, 17)
	// Thousands of user IDs fit in the size limit without their
	// signatures: the packet count stops them before any parsing.
	var bomb bytes.Buffer
	if err := good.PrimaryKey.Serialize(&bomb); err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		if err := packet.NewUserId(fmt.Sprint(i), "", "").Serialize(&bomb); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct {
		name, text string
		status     int
		message    string
	}{
		{"huge body", strings.Repeat("A", 2<<20), http.StatusRequestEntityTooLarge, "larger than"},
		{"huge key text", keyservertest.ArmorBytes(t, openpgp.PublicKeyType, make([]byte, 300<<10)), http.StatusRequestEntityTooLarge, "more than the"},
		{"malformed armor", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!not base64!!!\n-----END PGP PUBLIC KEY BLOCK-----\n",
			http.StatusBadRequest, "invalid key text"},
		{"not armored", "hello", http.StatusBadRequest, "not an ASCII-armored"},
		{"armored noise", keyservertest.ArmorBytes(t, openpgp.PublicKeyType, noise), http.StatusBadRequest, "invalid key text"},
		{"a private key", private.String(), http.StatusBadRequest, "private key"},
		{"a signature block", keyservertest.ArmorBytes(t, "PGP SIGNATURE", []byte{1, 2, 3}), http.StatusBadRequest, "not a public key block"},
		{"hundreds of user IDs", keyservertest.Armored(t, manyUIDs), http.StatusBadRequest, "more than 64 user IDs"},
		{"thousands of user IDs", keyservertest.ArmorBytes(t, openpgp.PublicKeyType, bomb.Bytes()), http.StatusBadRequest, "more than 64 user IDs"},
		{"RSA 1024", keyservertest.Armored(t, rsaSmall), http.StatusBadRequest, "fewer than the 2048"},
		{"seventeen keys", flood, http.StatusBadRequest, "more than 16 keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			st, b := e.do("POST", "/pks/add", e.tokens["alice"],
				strings.NewReader(url.Values{"keytext": {tc.text}}.Encode()), "application/x-www-form-urlencoded")
			runtime.ReadMemStats(&after)
			if st != tc.status || !strings.Contains(string(b), tc.message) || !strings.HasPrefix(string(b), `{"error":{"code":`) {
				t.Fatalf("%d %s, want %d and %q", st, b, tc.status, tc.message)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
				t.Errorf("the submission allocated %d MiB", n>>20)
			}
		})
	}
	if st, b := e.do("GET", "/v1/keys?owner=alice", "", nil); st != http.StatusOK || string(b) != "{\"data\":[]}\n" {
		t.Fatalf("keys held after the refusals: %s", b)
	}

	// An expired key is taken (a keyserver distributes it) and shown as
	// expired; signatures by it do not verify (package sifverify).
	keyservertest.Push(t, e.srv.URL, e.tokens["alice"], expired)
	keys, err := e.search("", fpHex(expired))
	if err != nil || keys[0].fields[6] != "e" || keys[0].fields[5] == "" {
		t.Fatalf("expired key's index: %+v %v", keys, err)
	}
}

// concatKeys is n public keys in one armored block.
func concatKeys(t *testing.T, n int) string {
	t.Helper()
	var body bytes.Buffer
	for range n {
		if err := keyservertest.NewEntity(t, "Flood", "flood@example.org").Serialize(&body); err != nil {
			t.Fatal(err)
		}
	}
	return keyservertest.ArmorBytes(t, openpgp.PublicKeyType, body.Bytes())
}
