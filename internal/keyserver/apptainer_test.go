package keyserver_test

// `apptainer key push/search/pull` and `apptainer verify` use Apptainer's
// fork of the key client, apptainer/container-key-client, with the same
// token transport as Singularity (keyservertest.Transport). The same flows
// as TestPushSearchPull, with that client.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	akc "github.com/apptainer/container-key-client/client"

	"github.com/silo-hpc/silo/internal/keyserver/keyservertest"
)

func (e *env) apptainerKeys(user string) *akc.Client {
	e.t.Helper()
	c, err := akc.NewClient(akc.OptBaseURL(e.srv.URL), akc.OptUserAgent("apptainer/1.4.5"),
		akc.OptHTTPClient(&http.Client{Transport: keyservertest.Transport(e.tokens[user]), Timeout: 5 * time.Second}))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func akcCode(err error) int {
	var he *akc.HTTPError
	if errors.As(err, &he) {
		return he.Code()
	}
	return 0
}

func TestApptainerKeyClient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice := keyservertest.NewEntity(t, "Alice Liddell", "alice@example.org")
	fp := fpHex(alice)

	if err := e.apptainerKeys("").PKSAdd(ctx, keyservertest.Armored(t, alice)); akcCode(err) != http.StatusUnauthorized {
		t.Fatalf("anonymous push: %v, want 401", err)
	}
	if err := e.apptainerKeys("alice").PKSAdd(ctx, keyservertest.Armored(t, alice)); err != nil {
		t.Fatalf("push: %v", err)
	}
	// key search, machine-readable, by fingerprint (as 0x…), name, e-mail.
	for _, term := range []string{"0x" + fp, "liddell", "alice@example.org"} {
		pd := akc.PageDetails{Size: 256}
		text, err := e.apptainerKeys("").PKSLookup(ctx, &pd, term, akc.OperationIndex, true, false, []string{akc.OptionMachineReadable})
		if err != nil {
			t.Fatalf("search %q: %v", term, err)
		}
		keys := parseMR(t, text)
		if len(keys) != 1 || keys[0].fields[1] != fp || len(keys[0].uids) != 1 || keys[0].uids[0] != "Alice Liddell <alice@example.org>" {
			t.Fatalf("search %q: %+v", term, keys)
		}
	}

	// key pull by fingerprint and by 32-bit ID; an unknown key is a 404.
	for _, id := range [][]byte{alice.PrimaryKey.Fingerprint, alice.PrimaryKey.Fingerprint[16:]} {
		text, err := e.apptainerKeys("bob").GetKey(ctx, id)
		if err != nil {
			t.Fatalf("pull %x: %v", id, err)
		}
		el, err := openpgp.ReadArmoredKeyRing(strings.NewReader(text))
		if err != nil || len(el) != 1 || fpHex(el[0]) != fp || el[0].PrivateKey != nil {
			t.Fatalf("pull %x: %v %v", id, el, err)
		}
	}
	if _, err := e.apptainerKeys("").GetKey(ctx, []byte{1, 2, 3, 4}); akcCode(err) != http.StatusNotFound {
		t.Fatalf("pull of an unknown key: %v, want 404", err)
	}

	// verify's lookup by the signing key's ID.
	text, err := e.apptainerKeys("").PKSLookup(ctx, nil, fmt.Sprintf("%#x", alice.PrimaryKey.KeyId), akc.OperationGet, false, true, nil)
	if err != nil {
		t.Fatalf("verify's lookup: %v", err)
	}
	if el, err := openpgp.ReadArmoredKeyRing(strings.NewReader(text)); err != nil || len(el.KeysById(alice.PrimaryKey.KeyId)) != 1 {
		t.Fatalf("verify's lookup: %v %v", el, err)
	}

	// A changed copy (another user ID) from another user is refused.
	if err := alice.AddUserId("Mallory", "", "mallory@example.org", nil); err != nil {
		t.Fatal(err)
	}
	if err := e.apptainerKeys("bob").PKSAdd(ctx, keyservertest.Armored(t, alice)); akcCode(err) != http.StatusForbidden {
		t.Fatalf("bob changing alice's key: %v, want 403", err)
	}
}
