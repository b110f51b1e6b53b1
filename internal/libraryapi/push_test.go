package libraryapi_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/sylabs/scs-library-client/client"
)

// TestPushPull pushes a 1 MiB SIF (v2 single-part upload) and a 100 MiB
// one (multipart), pulls each with both download entry points, and
// re-pushes the same file, which the client must see as already present.
func TestPushPull(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name      string
		size      int64
		multipart bool
	}{
		{"1MiB", 1 << 20, false},
		{"100MiB", 100 << 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := makeSIF(t, "amd64", tc.size, uint64(tc.size))
			ref := "alice/sizes/img" + strings.ToLower(tc.name)
			c := e.client("alice")
			res := c.mustPush(t, path, ref, "amd64", "latest")
			if res == nil || res.ContainerURL != "library/"+ref || res.Quota.QuotaUsageBytes < tc.size || res.Quota.QuotaTotalBytes != 0 {
				t.Fatalf("completion %+v: want containerUrl and quota", res)
			}
			if got := c.rec.sent("POST /v2/imagefile/") && c.rec.sent("PUT /v2/_upload/"); !got {
				t.Fatalf("no v2 upload sent: %v", c.rec.reqs)
			}
			if mp := c.log.has("Uploaded 2 parts"); mp != tc.multipart {
				t.Fatalf("multipart with 2 parts = %v, want %v (log %v)", mp, tc.multipart, c.log.lines)
			}
			img, err := c.GetImage(context.Background(), "amd64", ref+":latest")
			if err != nil {
				t.Fatal(err)
			}
			if img.Hash != fileHash(t, path) || !img.Uploaded || img.Size <= tc.size || img.Architecture == nil || *img.Architecture != "amd64" {
				t.Fatalf("image %+v, want hash %s", img, fileHash(t, path))
			}
			e.client("alice").pullBoth(t, ref, "latest", "amd64", path)

			again := e.client("alice")
			if res := again.mustPush(t, path, ref, "amd64", "latest"); res != nil {
				t.Fatalf("re-push uploaded again: %+v", res)
			}
			if !again.log.has("Image is already present in the library") || again.rec.sent("POST /v2/imagefile/") {
				t.Fatalf("re-push did not skip the upload: %v", again.rec.reqs)
			}
		})
	}
}

// TestTags covers adding, replacing and stacking tags, and one tag for two
// architectures pulled separately.
func TestTags(t *testing.T) {
	e := newEnv(t)
	c := e.client("alice")
	ctx := context.Background()
	one, two := makeSIF(t, "amd64", 4096, 1), makeSIF(t, "amd64", 4096, 2)
	ref := "alice/tags/app"
	c.mustPush(t, one, ref, "amd64", "v1")
	c.mustPush(t, one, ref, "amd64", "stable", "prod") // several tags, one image
	c.mustPush(t, two, ref, "amd64", "v2")
	ids := map[string]string{}
	for _, tag := range []string{"v1", "stable", "prod", "v2"} {
		img, err := c.GetImage(ctx, "amd64", ref+":"+tag)
		if err != nil {
			t.Fatalf("tag %s: %v", tag, err)
		}
		ids[tag] = img.ID
	}
	if ids["v1"] != ids["stable"] || ids["v1"] != ids["prod"] || ids["v1"] == ids["v2"] {
		t.Fatalf("tag ids %v", ids)
	}
	c.mustPush(t, two, ref, "amd64", "v1") // replace
	if img, _ := c.GetImage(ctx, "amd64", ref+":v1"); img == nil || img.ID != ids["v2"] {
		t.Fatalf("v1 not replaced: %+v", img)
	}
	if img, _ := c.GetImage(ctx, "amd64", ref+":stable"); img == nil || img.ID != ids["stable"] {
		t.Fatalf("stable moved: %+v", img)
	}

	arm := makeSIF(t, "arm64", 4096, 3)
	c.mustPush(t, one, ref, "amd64", "multi")
	c.mustPush(t, arm, ref, "arm64", "multi")
	c.pullBoth(t, ref, "multi", "amd64", one)
	c.pullBoth(t, ref, "multi", "arm64", arm)
	if _, err := c.GetImage(ctx, "ppc64le", ref+":multi"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("ppc64le multi: %v, want not found", err)
	}
	var con struct {
		ArchTags map[string]map[string]string `json:"archTags"`
	}
	e.doJSON("GET", "/v1/containers/"+ref, e.tokens["alice"], nil, &con)
	if con.ArchTags["amd64"]["multi"] == "" || con.ArchTags["arm64"]["multi"] == "" || con.ArchTags["amd64"]["multi"] == con.ArchTags["arm64"]["multi"] {
		t.Fatalf("archTags %v", con.ArchTags)
	}
}

// TestPushRules covers seed 003's push logic: frozen containers refuse a
// tag replacement, missing collections are created, and nobody but the
// owner pushes into a collection.
func TestPushRules(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.client("alice"), e.client("bob")
	one, two := makeSIF(t, "amd64", 4096, 1), makeSIF(t, "amd64", 4096, 2)
	ref := "alice/rules/app"

	alice.mustPush(t, one, ref, "amd64", "latest") // auto-creates alice/rules
	var col struct {
		ID      string `json:"id"`
		Owner   string `json:"owner"`
		Private bool   `json:"private"`
	}
	if st, b := e.doJSON("GET", "/v1/collections/alice/rules", e.tokens["alice"], nil, &col); st != http.StatusOK || col.ID == "" || col.Private {
		t.Fatalf("auto-created collection: %d %s", st, b)
	}

	var con struct {
		ID     string `json:"id"`
		Frozen bool   `json:"frozen"`
	}
	e.doJSON("GET", "/v1/containers/"+ref, e.tokens["alice"], nil, &con)
	// Only the owner may freeze.
	st, b := e.doJSON("PUT", "/v1/containers/"+con.ID, e.tokens["bob"], `{"frozen":true}`, nil)
	wantError(t, st, b, http.StatusForbidden)
	if st, b := e.doJSON("PUT", "/v1/containers/"+con.ID, e.tokens["alice"], `{"frozen":true}`, &con); st != http.StatusOK || !con.Frozen {
		t.Fatalf("freeze: %d %s", st, b)
	}
	_, err := alice.push(t, two, ref, "amd64", "latest")
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("replacing a frozen tag: %v, want permission denied", err)
	}
	alice.mustPush(t, two, ref, "amd64", "new-tag") // new tags are fine
	if img, _ := alice.GetImage(context.Background(), "amd64", ref+":latest"); img == nil || img.Hash != fileHash(t, one) {
		t.Fatalf("frozen tag moved: %+v", img)
	}
	e.doJSON("PUT", "/v1/containers/"+con.ID, e.tokens["alice"], `{"frozen":false}`, &con)
	alice.mustPush(t, two, ref, "amd64", "latest")

	// Bob may pull alice's public image but not push into her container,
	// nor create a collection in her entity.
	bob.pullBoth(t, ref, "latest", "amd64", two)
	three := makeSIF(t, "amd64", 4096, 9)
	for _, target := range []string{ref, "alice/other/app"} {
		if _, err := bob.push(t, three, target, "amd64", "latest"); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Fatalf("bob pushing to %s: %v, want permission denied", target, err)
		}
	}
	if _, err := bob.GetImage(context.Background(), "amd64", ref+":"+fileHash(t, three)); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("bob's refused image exists: %v", err)
	}
	bob.mustPush(t, three, "bob/mine/app", "amd64", "latest")
}

// TestDefaultPrivate: with default_private, collections made by a push or
// by a curl POST without "private" are private; an explicit value wins.
func TestDefaultPrivate(t *testing.T) {
	e := newEnv(t, func(c *configT) { c.Library.DefaultPrivate = true })
	e.client("alice").mustPush(t, makeSIF(t, "amd64", 1024, 1), "alice/pushed/app", "amd64", "latest")
	var ent struct {
		ID string `json:"id"`
	}
	if st, b := e.doJSON("GET", "/v1/entities/alice", e.tokens["alice"], nil, &ent); st != http.StatusOK {
		t.Fatalf("entity: %d %s", st, b)
	}
	for name, tc := range map[string]struct {
		body string
		want bool
	}{
		"pushed":   {"", true},
		"implicit": {`{"entity":"` + ent.ID + `","name":"implicit"}`, true},
		"public":   {`{"entity":"` + ent.ID + `","name":"public","private":false}`, false},
	} {
		if tc.body != "" {
			if st, b := e.doJSON("POST", "/v1/collections", e.tokens["alice"], tc.body, nil); st != http.StatusOK {
				t.Fatalf("%s: %d %s", name, st, b)
			}
		}
		var col struct{ Private bool }
		e.doJSON("GET", "/v1/collections/alice/"+name, e.tokens["alice"], nil, &col)
		if col.Private != tc.want {
			t.Errorf("%s: private %v, want %v", name, col.Private, tc.want)
		}
	}
}

// TestDelete deletes an image: only its owner may, and it is gone after.
func TestDelete(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.client("alice"), e.client("bob")
	ctx := context.Background()
	path := makeSIF(t, "amd64", 4096, 1)
	ref := "alice/del/app"
	alice.mustPush(t, path, ref, "amd64", "latest")
	if err := bob.DeleteImage(ctx, ref+":latest", "amd64"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("bob deleting: %v", err)
	}
	if err := alice.DeleteImage(ctx, ref+":latest", "amd64"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.GetImage(ctx, "amd64", ref+":latest"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := alice.DownloadImage(ctx, new(strings.Builder), "amd64", ref, "latest", nil); err == nil {
		t.Fatal("deleted image downloads")
	}
	if err := alice.DeleteImage(ctx, ref+":latest", "amd64"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("deleting twice: %v", err)
	}
}

// TestFrozenOverRedirect: a client that follows /v1/oci-redirect pushes
// over OCI, but a push into a frozen container is kept on the Library API
// so the refusal reads "permission denied" (the client's OCI path would
// show only a status code).
func TestFrozenOverRedirect(t *testing.T) {
	e := newEnv(t)
	alice := e.ociClient("alice")
	one, two := makeSIF(t, "amd64", 4096, 11), makeSIF(t, "amd64", 4096, 12)
	ref := "alice/redirect/app"
	alice.mustPush(t, one, ref, "amd64", "latest")
	if !alice.rec.sent("PATCH /v2/alice/redirect/app/blobs/uploads/") && !alice.rec.sent("PUT /v2/alice/redirect/app/blobs/uploads/") {
		t.Fatalf("the first push did not go over OCI: %q", alice.rec.reqs)
	}
	var con struct {
		ID     string `json:"id"`
		Frozen bool   `json:"frozen"`
	}
	e.doJSON("GET", "/v1/containers/"+ref, e.tokens["alice"], nil, &con)
	if st, b := e.doJSON("PUT", "/v1/containers/"+con.ID, e.tokens["alice"], `{"frozen":true}`, &con); st != http.StatusOK || !con.Frozen {
		t.Fatalf("freeze: %d %s", st, b)
	}
	_, err := alice.push(t, two, ref, "amd64", "latest")
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("replacing a frozen tag over the redirect: %v, want permission denied", err)
	}
	alice.pullBoth(t, ref, "latest", "amd64", one)
}

// TestFrozenArchlessTag: in a frozen container, a tag for an architecture
// may not take over the pulls an architecture-less tag of the same name
// answered, nor the reverse: both would replace what the tag names.
func TestFrozenArchlessTag(t *testing.T) {
	e := newEnv(t)
	tok := e.tokens["alice"]
	data := readFile(t, makeArchlessSIF(t, "generic data"))
	cid, img := e.rawImage("frozen", "app", hashOf(data))
	if st, b := e.do("POST", "/v1/imagefile/"+img, tok, bytes.NewReader(data)); st != http.StatusOK {
		t.Fatalf("upload: %d %s", st, b)
	}
	if st, b := e.doJSON("POST", "/v1/tags/"+cid, tok, map[string]string{"Tag": "latest", "ImageID": img}, nil); st != http.StatusOK {
		t.Fatalf("tag: %d %s", st, b)
	}
	// An amd64 image tagged "arm" before the freeze.
	alice := e.client("alice")
	alice.mustPush(t, makeSIF(t, "amd64", 1000, 1), "alice/frozen/app", "amd64", "arm")
	if st, b := e.doJSON("PUT", "/v1/containers/"+cid, tok, `{"frozen":true}`, nil); st != http.StatusOK {
		t.Fatalf("freeze: %d %s", st, b)
	}
	_, err := alice.push(t, makeSIF(t, "amd64", 1000, 2), "alice/frozen/app", "amd64", "latest")
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("shadowing a frozen arch-less tag: %v, want permission denied", err)
	}
	// And an arch-less image may not take over "arm" either.
	other := readFile(t, makeArchlessSIF(t, "another"))
	_, img2 := e.rawImage("frozen", "app", hashOf(other))
	if st, b := e.do("POST", "/v1/imagefile/"+img2, tok, bytes.NewReader(other)); st != http.StatusOK {
		t.Fatalf("upload: %d %s", st, b)
	}
	st, b := e.doJSON("POST", "/v1/tags/"+cid, tok, map[string]string{"Tag": "arm", "ImageID": img2}, nil)
	wantError(t, st, b, http.StatusForbidden)
	var got struct{ ID string }
	for ref, want := range map[string]string{"latest?arch=amd64": img, "latest": img} {
		if e.doJSON("GET", "/v1/images/alice/frozen/app:"+ref, "", nil, &got); got.ID != want {
			t.Errorf("%s names %s, want %s", ref, got.ID, want)
		}
	}
	// New tags are still fine.
	if st, b := e.doJSON("POST", "/v1/tags/"+cid, tok, map[string]string{"Tag": "fresh", "ImageID": img2}, nil); st != http.StatusOK {
		t.Fatalf("new tag: %d %s", st, b)
	}
}
