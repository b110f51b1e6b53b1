package webui_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The collection page's "Rotate image URLs" (docs/sregistry.md,
// "Downloads"): its owner ends every sregistry image URL handed out;
// other users see no button and are refused as for any owner action, a
// private collection's as a missing one's.
func TestRotateImageURLs(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.login("alice"), e.login("bob")
	e.mustPush("alice", smallSIF(t, "one"), "alice/urls/app", "v1")
	image := func() string {
		t.Helper()
		res, err := http.Get(e.srv.URL + "/alice/api/container/urls/app:v1")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m struct{ Image string }
		if err := json.NewDecoder(res.Body).Decode(&m); err != nil || m.Image == "" {
			t.Fatalf("sregistry manifest: %d %v", res.StatusCode, err)
		}
		return m.Image
	}
	status := func(url string) int {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	before := image()
	if st := status(before); st != http.StatusOK {
		t.Fatalf("image URL before the rotation: %d", st)
	}

	want(t, alice.get("/library/alice/urls"), http.StatusOK, "Rotate image URLs")
	lacks(t, bob.get("/library/alice/urls"), "Rotate image URLs")
	want(t, bob.post("/library/alice/urls/-/rotate-urls", nil), http.StatusForbidden)
	if st := status(before); st != http.StatusOK {
		t.Fatalf("image URL after bob's refused rotation: %d", st)
	}

	p := alice.post("/library/alice/urls/-/rotate-urls", nil)
	if p.status != http.StatusSeeOther || p.location != "/library/alice/urls?done=rotated" {
		t.Fatalf("rotate: %d %q %s", p.status, p.location, p.body)
	}
	want(t, alice.get(p.location), http.StatusOK, "those handed out before (shub://, sregistry-cli) no longer work")
	if st := status(before); st != http.StatusNotFound {
		t.Fatalf("old image URL after the rotation: %d, want 404", st)
	}
	after := image()
	if after == before || status(after) != http.StatusOK {
		t.Fatalf("new image URL %q (old %q) does not download", after, before)
	}

	// Private: bob's rotation is answered as for a collection that does
	// not exist.
	colID := e.id("alice", "/v1/collections/alice/urls")
	want(t, alice.post("/library/alice/urls/-/privacy", formOf("id", colID, "private", "true")), http.StatusSeeOther)
	private := bob.post("/library/alice/urls/-/rotate-urls", nil)
	missing := bob.post("/library/alice/nothing/-/rotate-urls", nil)
	if private.status != http.StatusNotFound || missing.status != http.StatusNotFound ||
		strings.ReplaceAll(private.body, "alice/urls", "alice/nothing") != missing.body {
		t.Fatalf("private %d, missing %d:\n%s\n---\n%s", private.status, missing.status, private.body, missing.body)
	}
}
