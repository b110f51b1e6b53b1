package libraryapi_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/silo-hpc/silo/internal/keyserver/keyservertest"
)

// signedSIF writes keyservertest.SIF to a file.
func signedSIF(t *testing.T, seed uint64, tamper bool, signers ...*openpgp.Entity) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("signed-%d.sif", seed))
	if err := os.WriteFile(path, keyservertest.SIF(t, seed, tamper, signers...), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// imageSigs is what the image JSON says of signatures.
type imageSigs struct {
	Hash         string
	Signed       bool
	Verified     bool
	Fingerprints []string
	Signatures   []struct {
		Fingerprint, Status, KeyOwner, Error string
		CoversPrimary                        bool
	}
}

func (e *env) imageSigs(t *testing.T, ref string) imageSigs {
	t.Helper()
	var img imageSigs
	if st, b := e.doJSON("GET", "/v1/images/"+ref, e.tokens["alice"], nil, &img); st != http.StatusOK {
		t.Fatalf("GET %s: %d %s", ref, st, b)
	}
	var in struct{ Image imageSigs }
	if st, b := e.doJSON("GET", "/v1/inspect/"+ref, e.tokens["alice"], nil, &in); st != http.StatusOK ||
		in.Image.Verified != img.Verified || len(in.Image.Signatures) != len(img.Signatures) {
		t.Fatalf("inspect %s: %d %s", ref, st, b)
	}
	return img
}

// statusOf lists the signatures' statuses.
func (s imageSigs) statuses() string {
	var out []string
	for _, sig := range s.Signatures {
		out = append(out, sig.Status)
	}
	return strings.Join(out, ",")
}

// The checks of signatures against the keys Silo holds, through the image
// JSON, the inspection and search; and again when a key is added or
// removed after the push.
func TestSignaturesVerified(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	aliceKey := keyservertest.NewEntity(t, "Alice", "alice@example.org")
	otherKey := keyservertest.NewEntity(t, "Other", "other@example.org")
	keyservertest.Push(t, e.srv.URL, e.tokens["alice"], aliceKey)
	alice := e.client("alice")
	for _, tc := range []struct {
		tag    string
		path   string
		signed bool
		want   string
	}{
		{"valid", signedSIF(t, 1, false, aliceKey), true, "verified"},
		{"unknown", signedSIF(t, 2, false, otherKey), true, "unknown_key"},
		{"tampered", signedSIF(t, 3, true, aliceKey), true, "invalid"},
		{"cosigned", signedSIF(t, 4, false, aliceKey, otherKey), true, "verified,unknown_key"},
		{"unsigned", signedSIF(t, 5, false), false, ""},
	} {
		alice.mustPush(t, tc.path, "alice/open/app", "amd64", tc.tag)
		got := e.imageSigs(t, "alice/open/app:"+tc.tag)
		if got.Signed != tc.signed || got.statuses() != tc.want || got.Verified != (tc.want == "verified") {
			t.Errorf("%s: %+v", tc.tag, got)
		}
		if tc.tag == "valid" && (got.Signatures[0].KeyOwner != "alice" || !got.Signatures[0].CoversPrimary ||
			got.Signatures[0].Fingerprint != fmt.Sprintf("%X", aliceKey.PrimaryKey.Fingerprint) || len(got.Fingerprints) != 1) {
			t.Errorf("valid: %+v", got)
		}
		if tc.tag == "tampered" && !strings.Contains(got.Signatures[0].Error, "integrity") {
			t.Errorf("tampered: %+v", got)
		}
	}
	signedSearch := func() []string {
		t.Helper()
		res, err := e.client("").Search(ctx, map[string]string{"value": "app", "signed": "true"})
		if err != nil {
			t.Fatal(err)
		}
		var tags []string
		for _, img := range res.Images {
			tags = append(tags, img.Tags...)
		}
		slices.Sort(tags)
		return tags
	}
	if got := signedSearch(); strings.Join(got, ",") != "valid" {
		t.Fatalf("signed search: %v", got)
	}

	// The other key arrives: the images it signed are checked again by
	// the server's background pass (run here directly).
	_, bobToken := e.srv.User(t, "carol", "user")
	keyservertest.Push(t, e.srv.URL, bobToken, otherKey)
	if n, err := e.srv.Library.Reverify(ctx); err != nil || n != 2 {
		t.Fatalf("re-verification: %d %v", n, err)
	}
	if got := e.imageSigs(t, "alice/open/app:unknown"); !got.Verified || got.Signatures[0].KeyOwner != "carol" {
		t.Fatalf("after the key arrived: %+v", got)
	}
	if got := e.imageSigs(t, "alice/open/app:cosigned"); !got.Verified || got.statuses() != "verified,verified" {
		t.Fatalf("cosigned after the key arrived: %+v", got)
	}
	if got := signedSearch(); strings.Join(got, ",") != "cosigned,unknown,valid" {
		t.Fatalf("signed search after the key arrived: %v", got)
	}
	if n, err := e.srv.Library.Reverify(ctx); err != nil || n != 0 {
		t.Fatalf("a second pass redid %d (%v)", n, err)
	}
	// And leaves: back to unknown.
	if st, b := e.do("DELETE", fmt.Sprintf("/v1/keys/%X", otherKey.PrimaryKey.Fingerprint), bobToken, nil); st != http.StatusNoContent {
		t.Fatalf("removing the key: %d %s", st, b)
	}
	if n, err := e.srv.Library.Reverify(ctx); err != nil || n != 2 {
		t.Fatalf("re-verification after removal: %d %v", n, err)
	}
	if got := e.imageSigs(t, "alice/open/app:unknown"); got.Verified || got.statuses() != "unknown_key" {
		t.Fatalf("after the key left: %+v", got)
	}
}

// policyAnswer is GET/PUT /v1/signature-policies/{id}.
type policyAnswer struct {
	Fingerprints []string
	Keys         []struct {
		Fingerprint, Owner string
		Held               bool
	}
	Images []struct {
		Container, Refusal string
		Tags               []string
		Passes             bool
	}
	Failing int
}

// A collection that accepts only images signed by given keys refuses the
// others, over the Library API, with a clear message, and stores nothing
// of them; what it held before stays, judged in the policy's view.
func TestSignaturePolicyLibrary(t *testing.T) {
	e := newEnv(t)
	aliceKey := keyservertest.NewEntity(t, "Alice", "alice@example.org")
	otherKey := keyservertest.NewEntity(t, "Other", "other@example.org")
	keyservertest.Push(t, e.srv.URL, e.tokens["alice"], aliceKey)
	alice := e.client("alice")
	fp := fmt.Sprintf("%X", aliceKey.PrimaryKey.Fingerprint)

	// Before the policy: a signed and an unsigned image.
	alice.mustPush(t, signedSIF(t, 10, false, aliceKey), "alice/secure/app", "amd64", "v1")
	alice.mustPush(t, signedSIF(t, 11, false), "alice/secure/app", "amd64", "old")
	var col struct{ ID string }
	e.doJSON("GET", "/v1/collections/alice/secure", e.tokens["alice"], nil, &col)
	path := "/v1/signature-policies/" + col.ID
	body := `{"fingerprints":["0x` + strings.ToLower(fp) + `"]}`
	st, b := e.do("PUT", path, e.tokens["bob"], strings.NewReader(body))
	wantError(t, st, b, http.StatusForbidden)
	st, b = e.do("PUT", path, "", strings.NewReader(body))
	wantError(t, st, b, http.StatusUnauthorized)
	st, b = e.do("PUT", path, e.tokens["alice"], strings.NewReader(`{"fingerprints":["ABCD1234"]}`))
	msg := wantError(t, st, b, http.StatusBadRequest)
	if !strings.Contains(msg, "invalid fingerprint") {
		t.Fatalf("key ID as a fingerprint: %s", msg)
	}
	var pol policyAnswer
	if st, b := e.doJSON("PUT", path, e.tokens["alice"], body, &pol); st != http.StatusOK {
		t.Fatalf("set policy: %d %s", st, b)
	}
	if len(pol.Fingerprints) != 1 || pol.Fingerprints[0] != fp || !pol.Keys[0].Held || pol.Keys[0].Owner != "alice" ||
		pol.Failing != 1 || len(pol.Images) != 2 {
		t.Fatalf("policy view: %+v", pol)
	}
	for _, img := range pol.Images {
		if old := img.Tags[0] == "old"; img.Passes == old || (old && img.Refusal != "the image is not signed") {
			t.Fatalf("stored image judged: %+v", img)
		}
	}

	// Pointing a tag at an image stored before is judged as a push is:
	// the unsigned one may not gain a tag, the signed one may.
	var ctr, oldImg, v1Img struct{ ID string }
	e.doJSON("GET", "/v1/containers/alice/secure/app", e.tokens["alice"], nil, &ctr)
	e.doJSON("GET", "/v1/images/alice/secure/app:old", e.tokens["alice"], nil, &oldImg)
	e.doJSON("GET", "/v1/images/alice/secure/app:v1", e.tokens["alice"], nil, &v1Img)
	st, b = e.do("POST", "/v2/tags/"+ctr.ID, e.tokens["alice"], strings.NewReader(`{"Tag":"latest","ImageID":"`+oldImg.ID+`","Arch":"amd64"}`))
	msg = wantError(t, st, b, http.StatusForbidden)
	if !strings.Contains(msg, "accepts only images with a valid signature by "+fp) || !strings.Contains(msg, "the image is not signed") {
		t.Fatalf("tagging a stored unsigned image: %s", msg)
	}
	st, b = e.do("GET", "/v1/images/alice/secure/app:latest", e.tokens["alice"], nil)
	wantError(t, st, b, http.StatusNotFound)
	if st, b := e.do("POST", "/v2/tags/"+ctr.ID, e.tokens["alice"], strings.NewReader(`{"Tag":"latest","ImageID":"`+v1Img.ID+`","Arch":"amd64"}`)); st != http.StatusOK {
		t.Fatalf("tagging a stored signed image: %d %s", st, b)
	}

	// Pushes: refused unless validly signed by alice's key.
	for _, tc := range []struct {
		tag, path, why string
	}{
		{"unsigned", signedSIF(t, 12, false), "the image is not signed"},
		{"unknown", signedSIF(t, 13, false, otherKey), "is not verified: no key with this fingerprint is held here"},
		{"tampered", signedSIF(t, 14, true, aliceKey), "does not verify"},
	} {
		_, err := alice.push(t, tc.path, "alice/secure/app", "amd64", tc.tag)
		if err == nil || !strings.Contains(err.Error(), "accepts only images with a valid signature by "+fp) ||
			!strings.Contains(err.Error(), tc.why) {
			t.Fatalf("push %s: %v", tc.tag, err)
		}
		st, b := e.do("GET", "/v1/images/alice/secure/app:"+tc.tag, e.tokens["alice"], nil)
		wantError(t, st, b, http.StatusNotFound)
	}
	// Content already stored elsewhere is judged as well (the client then
	// skips the upload).
	unknown := signedSIF(t, 15, false, otherKey)
	alice.mustPush(t, unknown, "alice/open/app", "amd64", "unknown")
	if _, err := alice.push(t, unknown, "alice/secure/app", "amd64", "copied"); err == nil || !strings.Contains(err.Error(), "not verified") {
		t.Fatalf("copy of stored content: %v", err)
	}
	alice.mustPush(t, signedSIF(t, 16, false, aliceKey), "alice/secure/app", "amd64", "v2")
	if got := e.imageSigs(t, "alice/secure/app:v2"); !got.Verified {
		t.Fatalf("accepted image: %+v", got)
	}

	// Off again: anything goes.
	if st, b := e.doJSON("DELETE", path, e.tokens["alice"], nil, &pol); st != http.StatusOK || len(pol.Fingerprints) != 0 || pol.Failing != 0 {
		t.Fatalf("policy off: %d %s", st, b)
	}
	alice.mustPush(t, signedSIF(t, 17, false), "alice/secure/app", "amd64", "unsigned")
}
