package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/silo-hpc/silo/internal/keyserver/keyservertest"
)

// signedFile writes keyservertest.SIF (signed as `singularity sign`
// signs, by signers; tampered after signing when tamper) to a file.
func signedFile(t *testing.T, seed uint64, tamper bool, signers ...*openpgp.Entity) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("signed-%d.sif", seed))
	if err := os.WriteFile(path, keyservertest.SIF(t, seed, tamper, signers...), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func fingerprint(e *openpgp.Entity) string { return fmt.Sprintf("%X", e.PrimaryKey.Fingerprint) }

// signedImages pushes alice's signed/app: valid (by her key, which the
// keyserver holds), stranger (by a key it does not hold), tampered,
// cosigned (both keys) and unsigned. It returns the keys.
func signedImages(t *testing.T, e *libEnv) (aliceKey, otherKey *openpgp.Entity) {
	t.Helper()
	aliceKey = keyservertest.NewEntity(t, "Alice", "alice@example.org")
	otherKey = keyservertest.NewEntity(t, "Other", "other@example.org")
	keyservertest.Push(t, e.srv.URL, e.tokens["alice"], aliceKey)
	e.push(signedFile(t, 1, false, aliceKey), "signed/app:valid")
	e.push(signedFile(t, 2, false, otherKey), "signed/app:stranger")
	e.push(signedFile(t, 3, true, aliceKey), "signed/app:tampered")
	e.push(signedFile(t, 4, false, aliceKey, otherKey), "signed/app:cosigned")
	e.push(signedFile(t, 5, false), "signed/app:unsigned")
	return aliceKey, otherKey
}

// `silo list` shows the server's check of each image's signatures: the
// SIGNED column, -s's line per signature, --json; `search --signed`
// keeps verified images alone; a key arriving on the keyserver later
// turns the images it signed verified.
func TestListSignatures(t *testing.T) {
	e := newLibEnv(t)
	aliceKey, otherKey := signedImages(t, e)
	vars := map[string]string{"HOST": e.srv.Host, "ALICE_KEY": fingerprint(aliceKey), "OTHER_KEY": fingerprint(otherKey)}
	golden(t, "list-signatures", e.mustRun("", "list", "signed/app").stdout, vars)
	golden(t, "list-signatures-detail", e.mustRun("", "list", "-s", "signed/app").stdout, vars)

	var rows []struct {
		Tag        string
		Signed     bool
		Verified   bool
		Signatures []struct{ Fingerprint, Status, KeyOwner string }
	}
	if err := json.Unmarshal([]byte(e.mustRun("", "list", "--json", "signed/app").stdout), &rows); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rows {
		var s []string
		for _, sig := range r.Signatures {
			s = append(s, sig.Status+"/"+sig.KeyOwner)
		}
		got[r.Tag] = fmt.Sprintf("%v %v %s", r.Signed, r.Verified, strings.Join(s, ","))
	}
	for tag, want := range map[string]string{"valid": "true true verified/alice", "stranger": "true false unknown_key/",
		"tampered": "true false invalid/", "cosigned": "true false verified/alice,unknown_key/", "unsigned": "false false "} {
		if got[tag] != want {
			t.Errorf("--json %s: %q, want %q", tag, got[tag], want)
		}
	}

	// --signed, listed (no query: filtered here) and searched (the
	// server's search): verified images only.
	e.mustRun("", "search", "--signed").expectOut(t, "Collections\n1  signed/app:valid\thttp://"+e.srv.Host+"/library/alice/signed/app\n")
	e.mustRun("", "search", "--signed", "app").expectOut(t, "Collections\n1  signed/app:valid\thttp://"+e.srv.Host+"/library/alice/signed/app\n")

	// bob pushes the other key; the server checks the images it signed
	// again (its background pass, run here directly).
	keyservertest.Push(t, e.srv.URL, e.tokens["bob"], otherKey)
	if _, err := e.srv.Library.Reverify(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := e.mustRun("", "list", "-s", "signed/app:stranger").stdout
	if want := "signed, verified by " + fingerprint(otherKey) + " (bob)"; !strings.Contains(out, want) {
		t.Fatalf("after the key arrived:\n%s\nwant %q", out, want)
	}
	if out := e.mustRun("", "list", "signed/app:cosigned").stdout; !strings.Contains(out, "cosigned  amd64") || !strings.Contains(out, "verified") {
		t.Fatalf("cosigned after the key arrived:\n%s", out)
	}
}

// `silo admin policy get|set|clear` over HTTP with the remote's token:
// the owner sets it, others are refused with the server's message; the
// policy shows which stored images it would refuse; pushes are then
// refused with the policy's message, and accepted once it is cleared.
func TestAdminPolicy(t *testing.T) {
	e := newLibEnv(t)
	aliceKey, otherKey := signedImages(t, e)
	fp := fingerprint(aliceKey)
	vars := map[string]string{"HOST": e.srv.Host, "ALICE_KEY": fp, "OTHER_KEY": fingerprint(otherKey)}
	for _, tag := range []string{"valid", "stranger", "tampered", "cosigned", "unsigned"} {
		vars["HASH_"+strings.ToUpper(tag)] = shortHash("sha256." + e.imageHash("alice/signed/app", tag))
	}

	golden(t, "policy-none", e.mustRun("", "admin", "policy", "get", "signed").stdout, vars)
	// Help and usage offer only what applies: not the admin group's
	// database flags, which the policy commands refuse; the other admin
	// commands keep them.
	help := e.mustRun("", "admin", "policy", "set", "--help").stdout
	if strings.Contains(help, "--data-dir") || !strings.Contains(help, "--json") {
		t.Fatalf("policy help: %s", help)
	}
	if r := e.run("", "admin", "policy", "set", "signed"); strings.Contains(r.stdout+r.stderr, "--database") {
		t.Fatalf("policy usage: %s%s", r.stdout, r.stderr)
	}
	if help := e.mustRun("", "admin", "user", "--help").stdout; !strings.Contains(help, "--data-dir") {
		t.Fatalf("admin user help: %s", help)
	}
	e.run("", "admin", "policy", "get", "signed", "--data-dir", "x").expectFatal(t, "silo admin policy talks to the active remote over HTTP: --data-dir does not apply")
	// A fingerprint that names no held key is accepted (the key may come
	// later) and shown as not held.
	missing := strings.Repeat("AB", 20)
	r := e.mustRun("", "admin", "policy", "set", "signed", "0x"+strings.ToLower(fp), missing)
	if r.stderr != "INFO:    Signature policy of alice/signed set: pushes need a valid signature by one of 2 key(s).\n" {
		t.Fatalf("set: %q", r.stderr)
	}
	golden(t, "policy-set", r.stdout, vars)
	golden(t, "policy-get", e.mustRun("", "admin", "policy", "get", "alice/signed").stdout, vars)

	var p struct {
		Collection   string
		Fingerprints []string
		Failing      int
		Images       []struct {
			Tags   []string
			Passes bool
		}
	}
	if err := json.Unmarshal([]byte(e.mustRun("", "admin", "policy", "get", "--json", "signed").stdout), &p); err != nil {
		t.Fatal(err)
	}
	if p.Collection != "alice/signed" || strings.Join(p.Fingerprints, ",") != fp+","+missing || p.Failing != 4 || len(p.Images) != 5 {
		t.Fatalf("--json: %+v", p)
	}

	// The policy in force: a push signed by an unknown key is refused
	// with the policy's message and leaves no tag; a valid one goes in.
	r = e.run("", "push", "-U", signedFile(t, 6, false, otherKey), "signed/app:refused")
	r.expectFatalAfter(t, "WARNING: Skipping container verification\n", "Unable to push image: permission denied: collection alice/signed "+
		"accepts only images with a valid signature by "+fp+", "+missing+": its signature by "+fingerprint(otherKey)+
		" is not verified: no key with this fingerprint is held here (push it with `singularity key push`)")
	if h := e.imageHash("alice/signed/app", "refused"); h != "<404>" {
		t.Fatalf("the refused push left a tag: %s", h)
	}
	e.push(signedFile(t, 7, false, aliceKey), "signed/app:accepted")

	// Others: bob may read the public collection's policy, not change it;
	// a missing collection; a key ID is not a fingerprint; server flags.
	e.login("bob")
	e.mustRun("", "admin", "policy", "get", "alice/signed")
	e.run("", "admin", "policy", "clear", "alice/signed").expectFatal(t, "signature policy of alice/signed: permission denied")
	e.run("", "admin", "policy", "get", "alice/nothing").expectFatal(t, "collection alice/nothing not found")
	e.login("alice")
	e.run("", "admin", "policy", "set", "signed", fp[32:]).expectFatal(t, "signature policy of alice/signed: invalid fingerprint")
	e.run("", "admin", "policy", "get", "a/b/c").expectFatal(t, `invalid collection "a/b/c"`)
	e.run("", "admin", "policy", "get", "signed", "--data-dir", t.TempDir()).expectFatal(t,
		"silo admin policy talks to the active remote over HTTP: --data-dir does not apply")

	r = e.mustRun("", "admin", "policy", "clear", "signed")
	if r.stderr != "INFO:    Signature policy of alice/signed removed: pushes need no signature.\n" {
		t.Fatalf("clear: %q", r.stderr)
	}
	golden(t, "policy-none", r.stdout, vars)
	e.push(signedFile(t, 8, false), "signed/app:after")
}
