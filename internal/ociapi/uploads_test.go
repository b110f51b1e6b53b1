package ociapi_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/meta"
)

// A POST records nothing (its session id is signed, internal/upload);
// the id then works only for its own repository, for a caller who may
// push there, and not at all once altered or ended.
func TestSignedUploadSessions(t *testing.T) {
	e := newEnv(t)
	_, bobTok := e.user("bob", meta.RoleUser)
	e.pushBlob("bob/x", []byte("bob's"))
	resp, _ := e.must(202, req{method: "POST", path: "/v2/admin/x/blobs/uploads/"})
	loc := e.location(resp)
	u, _ := url.Parse(loc)
	id := u.Path[strings.LastIndex(u.Path, "/")+1:]
	if _, err := e.srv.Meta.GetUpload(t.Context(), id); err == nil {
		t.Fatal("the POST recorded its session")
	}
	body := []byte("content")
	put := func(path string) string { return withQuery(path, "digest", digest.FromBytes(body).String()) }
	unknown := func(r req) {
		t.Helper()
		_, b := e.must(404, r)
		if ociErrorCode(t, b) != "BLOB_UPLOAD_UNKNOWN" {
			t.Fatalf("%s %s: %s", r.method, r.path, b)
		}
	}
	forged := "/v2/admin/x/blobs/uploads/" + id[:len(id)-4] + "AAAA"
	other := "/v2/bob/x/blobs/uploads/" + id
	for _, m := range []string{"GET", "PATCH", "PUT", "DELETE"} {
		unknown(req{method: m, path: put(forged), body: body})
		// Another repository, even one the caller may push to.
		unknown(req{method: m, path: put(other), body: body})
		unknown(req{method: m, path: put(other), body: body, user: "bob", pass: bobTok})
		// Another user who may not push here is refused as for any
		// repository of admin's.
		_, b := e.must(403, req{method: m, path: put(loc), body: body, user: "bob", pass: bobTok})
		if ociErrorCode(t, b) != "DENIED" {
			t.Fatalf("%s as bob: %s", m, b)
		}
	}
	e.must(204, req{method: "GET", path: loc})
	e.must(201, req{method: "PUT", path: put(loc), body: body})
	for _, m := range []string{"GET", "PATCH", "PUT", "DELETE"} {
		unknown(req{method: m, path: put(loc), body: body})
	}
}
