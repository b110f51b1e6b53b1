package webui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/silo-hpc/silo/internal/keyserver/keyservertest"
)

func fpOf(e *openpgp.Entity) string { return fmt.Sprintf("%X", e.PrimaryKey.Fingerprint) }

// lookup is `singularity key pull`'s request for a fingerprint: the
// status and whether an armored key came back.
func (e *env) lookup(fp string) (int, bool) {
	e.t.Helper()
	res, err := http.Get(e.srv.URL + "/pks/lookup?exact=on&op=get&search=0x" + fp)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, strings.Contains(string(b), "BEGIN PGP PUBLIC KEY BLOCK")
}

// The account page lists the user's keys (fingerprint, user IDs,
// created, expiry, state) and adds and removes them through the
// keyserver's rules: a pasted armored key becomes the user's and is
// served over HKP; only its owner (or an administrator) removes it;
// another user cannot replace it; bad or oversized keys and forms without
// their CSRF token change nothing.
func TestAccountKeys(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.login("alice"), e.login("bob")
	key := keyservertest.NewEntity(t, "Alice Liddell", "alice@example.org")
	fp := fpOf(key)

	p := alice.get("/auth/account")
	want(t, p, http.StatusOK, "Your OpenPGP keys", "You have no keys on this server.",
		`<form method="post" action="/auth/account/keys" class="stack">`+"\n    "+`<input type="hidden" name="csrf" value="`+alice.csrf+`">`)
	// A form without this browser's token is refused before anything
	// happens.
	want(t, alice.post("/auth/account/keys", formOf("keytext", keyservertest.Armored(t, key), "csrf", "forged")),
		http.StatusForbidden, "this form has expired")
	if st, _ := e.lookup(fp); st != http.StatusNotFound {
		t.Fatalf("a forged form stored the key: %d", st)
	}

	p = alice.post("/auth/account/keys", formOf("keytext", keyservertest.Armored(t, key)))
	if p.status != http.StatusSeeOther || p.location != "/auth/account?done=key" {
		t.Fatalf("add key: %d %q %s", p.status, p.location, p.body)
	}
	p = alice.get(p.location)
	want(t, p, http.StatusOK, "Your key is saved", "<code class=\"wrap\">"+fp+"</code>", "Alice Liddell &lt;alice@example.org&gt;",
		key.PrimaryKey.CreationTime.UTC().Format("2006-01-02"), `<span class="badge ok">valid</span>`, "never",
		`action="/auth/account/keys/`+fp+`/remove"`)
	if st, ok := e.lookup(fp); st != http.StatusOK || !ok {
		t.Fatalf("the key is not served over HKP: %d", st)
	}
	// Keys are the user's own: bob's page does not list alice's.
	lacks(t, bob.get("/auth/account"), fp)

	// bob may neither replace nor remove alice's key.
	if err := key.AddUserId("Alice Work", "", "alice@work.example", nil); err != nil {
		t.Fatal(err)
	}
	want(t, bob.post("/auth/account/keys", formOf("keytext", keyservertest.Armored(t, key))), http.StatusForbidden, "added by another user")
	want(t, bob.post("/auth/account/keys/"+fp+"/remove", nil), http.StatusForbidden, "permission denied: key "+fp+" belongs to alice")
	// alice replaces it with the new copy (two user IDs now).
	want(t, alice.post("/auth/account/keys", formOf("keytext", keyservertest.Armored(t, key))), http.StatusSeeOther)
	want(t, alice.get("/auth/account"), http.StatusOK, "Alice Liddell &lt;alice@example.org&gt;<br>Alice Work &lt;alice@work.example&gt;")

	// Bad input: the keyserver's messages, nothing stored.
	rsa, err := openpgp.NewEntity("Small", "", "small@example.org", &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 1024})
	if err != nil {
		t.Fatal(err)
	}
	var private strings.Builder
	w, _ := armor.Encode(&private, openpgp.PrivateKeyType, nil)
	if err := rsa.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var big strings.Builder
	w, _ = armor.Encode(&big, openpgp.PublicKeyType, nil)
	w.Write(make([]byte, 300<<10))
	w.Close()
	for _, tc := range []struct {
		text    string
		status  int
		message string
	}{
		{"", http.StatusBadRequest, "paste an ASCII-armored public key"},
		{"hello", http.StatusBadRequest, "not an ASCII-armored OpenPGP key"},
		{private.String(), http.StatusBadRequest, "private key"},
		{keyservertest.Armored(t, rsa), http.StatusBadRequest, "fewer than the 2048 accepted"},
		{big.String(), http.StatusRequestEntityTooLarge, "more than the 262144 accepted"},
		{strings.Repeat("A", 2<<20), http.StatusRequestEntityTooLarge, "the form is larger than the 1048576 bytes accepted"},
	} {
		want(t, bob.post("/auth/account/keys", formOf("keytext", tc.text)), tc.status, tc.message)
	}
	want(t, bob.get("/auth/account"), http.StatusOK, "You have no keys on this server.")

	// Signed out: the page and the forms send the browser to log in.
	anon := e.browser()
	if p := anon.get("/auth/account"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/auth/login") {
		t.Fatalf("signed-out account page: %d %q", p.status, p.location)
	}
	anon.get("/auth/login")
	other := keyservertest.NewEntity(t, "Other", "other@example.org")
	if p := anon.post("/auth/account/keys", formOf("keytext", keyservertest.Armored(t, other))); p.status != http.StatusSeeOther ||
		!strings.HasPrefix(p.location, "/auth/login") {
		t.Fatalf("signed-out add: %d %q", p.status, p.location)
	}
	if st, _ := e.lookup(fpOf(other)); st != http.StatusNotFound {
		t.Fatalf("a signed-out form stored a key: %d", st)
	}

	// A revoked copy shows as revoked.
	if err := key.RevokeKey(packet.KeyRetired, "retired", nil); err != nil {
		t.Fatal(err)
	}
	want(t, alice.post("/auth/account/keys", formOf("keytext", keyservertest.Armored(t, key))), http.StatusSeeOther)
	want(t, alice.get("/auth/account"), http.StatusOK, `<span class="badge bad">revoked</span>`)

	// The owner removes it; an administrator removes anyone's.
	p = alice.post("/auth/account/keys/"+fp+"/remove", nil)
	if p.status != http.StatusSeeOther || p.location != "/auth/account?done=keyremoved" {
		t.Fatalf("remove: %d %q %s", p.status, p.location, p.body)
	}
	want(t, alice.get(p.location), http.StatusOK, "The key is removed", "You have no keys on this server.")
	if st, _ := e.lookup(fp); st != http.StatusNotFound {
		t.Fatalf("a removed key is served: %d", st)
	}
	want(t, alice.post("/auth/account/keys/"+fp+"/remove", nil), http.StatusNotFound, "no key with fingerprint "+fp)
	want(t, bob.post("/auth/account/keys", formOf("keytext", keyservertest.Armored(t, other))), http.StatusSeeOther)
	root := e.login("root")
	root.get("/auth/account")
	want(t, root.post("/auth/account/keys/"+fpOf(other)+"/remove", nil), http.StatusSeeOther)
	if st, _ := e.lookup(fpOf(other)); st != http.StatusNotFound {
		t.Fatalf("the administrator's removal: %d", st)
	}
}

// Image rows of the container page carry the server's check of their
// signatures (verified, unknown key, invalid signature); the image's
// detail lists each signature; a key added on the account page turns the
// images it signed verified once the server checks them again.
func TestSignatureBadges(t *testing.T) {
	e := newEnv(t)
	aliceKey := keyservertest.NewEntity(t, "Alice", "alice@example.org")
	otherKey := keyservertest.NewEntity(t, "Other", "other@example.org")
	keyservertest.Push(t, e.srv.URL, e.tokens["alice"], aliceKey)
	e.mustPush("alice", keyservertest.SIF(t, 1, false, aliceKey), "alice/signed/app", "valid")
	e.mustPush("alice", keyservertest.SIF(t, 2, false, otherKey), "alice/signed/app", "stranger")
	e.mustPush("alice", keyservertest.SIF(t, 3, true, aliceKey), "alice/signed/app", "tampered")
	e.mustPush("alice", keyservertest.SIF(t, 4, false), "alice/signed/app", "unsigned")
	fp, other := fpOf(aliceKey), fpOf(otherKey)

	p := e.browser().get("/library/alice/signed/app")
	want(t, p, http.StatusOK,
		`<span class="badge ok" title="verified by `+fp+` (alice)">verified</span>`,
		`<span class="badge warn" title="unknown key `+other+`: this server holds no key with this fingerprint">unknown key</span>`,
		`<span class="badge bad" title="signature by `+fp+` does not verify: data object integrity compromised: 2">invalid signature</span>`,
		"<td>no</td>")
	img, err := e.libClient("alice").GetImage(context.Background(), "amd64", "alice/signed/app:valid")
	if err != nil {
		t.Fatal(err)
	}
	want(t, e.browser().get("/library/alice/signed/app?image="+url.QueryEscape(img.Hash)), http.StatusOK,
		`Signatures <span class="badge ok">verified</span>`, `<li class="wrap">verified by `+fp+` (alice)</li>`, "Checked ")
	img, err = e.libClient("alice").GetImage(context.Background(), "amd64", "alice/signed/app:unsigned")
	if err != nil {
		t.Fatal(err)
	}
	want(t, e.browser().get("/library/alice/signed/app?image="+url.QueryEscape(img.Hash)), http.StatusOK, "Not signed.")

	// bob adds the other key in his browser; the server's pass checks the
	// images it signed again.
	bob := e.login("bob")
	bob.get("/auth/account")
	want(t, bob.post("/auth/account/keys", formOf("keytext", keyservertest.Armored(t, otherKey))), http.StatusSeeOther)
	if _, err := e.srv.Library.Reverify(context.Background()); err != nil {
		t.Fatal(err)
	}
	p = e.browser().get("/library/alice/signed/app")
	want(t, p, http.StatusOK, `<span class="badge ok" title="verified by `+other+` (bob)">verified</span>`)
	lacks(t, p, ">unknown key<")
}
