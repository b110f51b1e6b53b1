package sregistryapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// sregistry-cli's push (chunked_upload, then the multipart /upload) makes
// a library image with its tag, byte-identical through sregistry-cli,
// shub://, library:// and oras://; pushing the tag again replaces it.
func TestCLIPush(t *testing.T) {
	e := newEnv(t)
	one, oneBytes := makeSIF(t, "amd64", 200_000, 1)
	two, twoBytes := makeSIF(t, "amd64", 200_000, 2)
	c := e.cli("alice")
	res := c.push(one, "tools", "app", "v1")
	var cid struct{ Cid int64 }
	if res.status1 != 200 || json.Unmarshal(res.body1, &cid) != nil || cid.Cid <= 0 || cid.Cid >= 1<<53 {
		t.Fatalf("step 1: %d %s", res.status1, res.body1)
	}
	if res.status2 != 200 || string(res.body2) != "{\"message\":\"Upload Complete\"}\n" {
		t.Fatalf("step 2: %d %s", res.status2, res.body2)
	}
	if want := []string{"POST /api/upload/chunked_upload", "POST /upload"}; strings.Join(c.sent, ",") != strings.Join(want, ",") {
		t.Fatalf("requests %q", c.sent)
	}
	if got := e.cli("").pull("tools", "app", "v1"); got.outcome != "ok" || !equal(got.file, oneBytes) {
		t.Fatalf("sregistry pull: %s", got.outcome)
	}
	if got, _, err := e.shub().pull("shub://HOST/alice/tools/app:v1"); err != nil || !equal(got, oneBytes) {
		t.Fatalf("shub pull: %v", err)
	}
	if !equal(e.libPull("", "alice/tools/app", "v1"), oneBytes) {
		t.Fatal("library pull differs")
	}
	if !equal(e.orasPull("", "alice/tools/app", "v1"), oneBytes) {
		t.Fatal("oras pull differs")
	}
	// The library read the SIF: architecture and inspection.
	img, err := e.library("").GetImage(t.Context(), "amd64", "alice/tools/app:v1")
	if err != nil || img.Architecture == nil || *img.Architecture != "amd64" {
		t.Fatalf("library image %+v: %v", img, err)
	}
	if st, _, b := e.do("GET", "/v1/inspect/alice/tools/app:v1", "", nil); st != 200 || !strings.Contains(string(b), `"primary_arch"`) {
		t.Fatalf("inspect: %d %s", st, b)
	}
	// Again with other bytes: the tag moves.
	if res := c.push(two, "tools", "app", "v1"); res.status2 != 200 {
		t.Fatalf("second push: %+v", res)
	}
	if !equal(e.libPull("", "alice/tools/app", "v1"), twoBytes) || !equal(e.orasPull("", "alice/tools/app", "v1"), twoBytes) {
		t.Fatal("the tag did not move")
	}
}

// The push forms without /api (a registry named in the image, SR §1) and
// the entity base URL (https://host/<entity>) reach the same endpoints.
func TestCLIPushForms(t *testing.T) {
	e := newEnv(t)
	path, data := makeSIF(t, "amd64", 10_000, 5)
	c := e.cli("alice")
	if res := c.push(path, "tools", "a", "latest", e.srv.URL); res.status1 != 200 || res.status2 != 200 {
		t.Fatalf("registry in the name: %+v", res)
	}
	if c.sent[0] != "POST /upload/chunked_upload" || c.sent[1] != "POST /upload" {
		t.Fatalf("requests %q", c.sent)
	}
	// bob pushes into his own entity with his entity as the base.
	b := e.cli("bob", e.srv.URL+"/bob/")
	if res := b.push(path, "apps", "b", "latest"); res.status1 != 200 || res.status2 != 200 {
		t.Fatalf("entity base: %+v", res)
	}
	if b.sent[0] != "POST /bob/api/upload/chunked_upload" || b.sent[1] != "POST /bob/upload" {
		t.Fatalf("requests %q", b.sent)
	}
	if !equal(e.libPull("", "bob/apps/b", "latest"), data) || !equal(e.libPull("", "alice/tools/a", "latest"), data) {
		t.Fatal("pushed images differ")
	}
	if st, body := c.delete("tools", "a", "latest", e.srv.URL); st != http.StatusNoContent {
		t.Fatalf("delete without /api: %d %s", st, body)
	}
	if c.sent[len(c.sent)-1] != "DELETE /container/tools/a:latest" || len(e.images("alice/tools/a")) != 0 {
		t.Fatalf("delete: %q, images %v", c.sent, e.images("alice/tools/a"))
	}
}

// What `singularity push oras://` sends pulls with shub:// and
// sregistry-cli, byte-identical.
func TestORASPushShubPull(t *testing.T) {
	e := newEnv(t)
	_, data := makeSIF(t, "amd64", 100_000, 6)
	e.orasPush("alice", "alice/oci/app", "v1", data)
	if got, m, err := e.shub().pull("shub://HOST/alice/oci/app:v1"); err != nil || !equal(got, data) || m.Commit != sha(data) {
		t.Fatalf("shub pull: %v", err)
	}
	if got := e.cli("bob").pull("oci", "app", "v1"); got.outcome != "ok" || !equal(got.file, data) {
		t.Fatalf("sregistry pull: %s", got.outcome)
	}
}
