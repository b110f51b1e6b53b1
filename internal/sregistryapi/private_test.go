package sregistryapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// A private image: anonymous pulls get the answer a missing name gets;
// sregistry-cli's 403-then-signed retry gets it for its owner; the image
// URL needs no Authorization (a capability) until the collection's
// downloads are rotated; other users are told it does not exist.
func TestPrivatePull(t *testing.T) {
	e := newEnv(t)
	path, data := makeSIF(t, "amd64", 50_000, 4)
	e.libPush("alice", path, "alice/secret/app", "v1")
	e.setPrivate("alice", "alice/secret", true)

	// Anonymous: a challenge sregistry-cli answers with a signature, and
	// for Singularity, which cannot sign, not found (privacy_test.go
	// checks both are what a missing name gets).
	st, _, b := e.do("GET", "/api/container/secret/app:v1", "", nil)
	if d := wantDetail(t, st, b, http.StatusForbidden); d != "Authentication Required" {
		t.Fatalf("challenge %q", d)
	}
	if _, _, err := e.shub().pull("shub://HOST/secret/app:v1"); err == nil || !strings.Contains(err.Error(), "manifest was not found") {
		t.Fatalf("shub pull of a private image: %v", err)
	}

	// The owner's sregistry-cli: 403, then the signed retry.
	c := e.cli("alice")
	got := c.pull("secret", "app", "v1")
	if got.outcome != "ok" || !equal(got.file, data) {
		t.Fatalf("alice's pull: %s", got.outcome)
	}
	if want := []string{"GET /api/container/secret/app:v1", "GET /api/container/secret/app:v1", "HEAD ", "GET "}; len(c.sent) != 4 || c.sent[0] != want[0] || c.sent[1] != want[1] ||
		!strings.HasPrefix(c.sent[2], "HEAD /api/download/") || !strings.HasPrefix(c.sent[3], "GET /api/download/") {
		t.Fatalf("requests %q", c.sent)
	}
	image := got.manifest["image"].(string)
	// bob signs correctly but may not read: not found, as for a missing name.
	if got := e.cli("bob").pull("secret", "app", "v1"); got.outcome != "Not Found: 404" {
		t.Fatalf("bob's pull: %s", got.outcome)
	}
	if got := e.cli("bob").pull("nothing", "app", "v1"); got.outcome != "Not Found: 404" {
		t.Fatalf("bob's pull of nothing: %s", got.outcome)
	}
	// A signature by a user who does not exist, or with the wrong key.
	ghost := e.cli("alice")
	ghost.user = "ghost"
	if got := ghost.pull("secret", "app", "v1"); got.outcome != "Unauthorized (403)" {
		t.Fatalf("ghost: %s", got.outcome)
	}

	// The image URL is a capability: no Authorization needed...
	if st, _, b := e.do("GET", image, "", nil); st != 200 || !equal(b, data) {
		t.Fatalf("capability download: %d", st)
	}
	// ...until rotated: only the owner (or an admin) may, and bob is told
	// the collection does not exist.
	st, _, b = e.do("POST", "/alice/api/collection/secret/secret", "Bearer "+e.users["bob"].token, nil)
	wantDetail(t, st, b, http.StatusNotFound)
	if st, _, b := e.do("POST", "/api/collection/secret/secret/", "Bearer "+e.users["alice"].token, nil); st != http.StatusNoContent {
		t.Fatalf("rotate: %d %s", st, b)
	}
	st, _, b = e.do("GET", image, "", nil)
	wantDetail(t, st, b, http.StatusNotFound)
	got = e.cli("alice").pull("secret", "app", "v1")
	if got.outcome != "ok" || !equal(got.file, data) || got.manifest["image"] == image {
		t.Fatalf("pull after the rotation: %s", got.outcome)
	}
	// Deleting the image ends its URL too.
	image = got.manifest["image"].(string)
	if st, b := e.cli("alice").delete("secret", "app", "v1"); st != http.StatusNoContent {
		t.Fatalf("delete: %d %s", st, b)
	}
	st, _, b = e.do("HEAD", image, "", nil)
	if st != http.StatusNotFound {
		t.Fatalf("HEAD of a deleted image: %d %s", st, b)
	}
}
