package sregistryapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// A private collection gets, on every path of this API and from every
// caller who may not read it, exactly the answer (status, headers that
// matter, body) the same request gets once the collection is gone.
func TestPrivateIsMissing(t *testing.T) {
	e := newEnv(t)
	path, data := makeLabelledSIF(t, map[string]string{"secret": "yes"}, "Bootstrap: scratch\n")
	open, _ := makeSIF(t, "amd64", 4096, 9)
	e.libPush("alice", path, "alice/hidden/app", "v1")
	e.libPush("alice", open, "alice/shown/app", "v1")
	e.setPrivate("alice", "alice/hidden", true)
	hex := sha(data)
	bob := e.cli("bob")
	bearer := "Bearer " + e.users["bob"].token
	type request struct {
		name, method, path, authz, ua, body string
	}
	pushBody := `{"collection": "hidden", "name": "app", "tag": "v2"}`
	requests := []request{
		{"manifest", "GET", "/api/container/hidden/app:v1", "", "", ""},
		{"manifest, Singularity", "GET", "/api/container/hidden/app:v1", "", "Singularity/4.5.0 (Linux amd64) Go/1.26.8", ""},
		{"manifest, Apptainer, entity", "GET", "/alice/api/container/hidden/app:v1", "", "Apptainer/1.4.5 (Linux amd64) Go/1.24", ""},
		{"manifest, digest", "GET", "/api/container/hidden/app@" + hex[:32], "", "", ""},
		{"manifest, signed", "GET", "/api/container/hidden/app:v1", bob.sign("pull", "hidden", "app", "v1"), "", ""},
		{"manifest, signed, entity", "GET", "/alice/api/container/hidden/app:v1", bob.sign("pull", "hidden", "app", "v1"), "", ""},
		{"manifest, token", "GET", "/alice/api/container/hidden/app:v1", bearer, "", ""},
		{"collection", "GET", "/api/collection/hidden", "", "", ""},
		{"collection, entity, token", "GET", "/alice/api/collection/hidden/", bearer, "", ""},
		{"collections", "GET", "/api/collections/", "", "", ""},
		{"collections, entity, token", "GET", "/alice/api/collections/", bearer, "", ""},
		{"search", "GET", "/api/container/search/collection/hidden/name/app/tag/v1", "", "", ""},
		{"search by name", "GET", "/alice/api/container/search/name/app", bearer, "", ""},
		{"labels", "GET", "/api/labels/search/secret/key", "", "", ""},
		{"labels, token", "GET", "/api/labels/search/yes/value", bearer, "", ""},
		{"delete", "DELETE", "/api/container/hidden/app:v1", bob.sign("delete", "hidden", "app", "v1"), "", ""},
		{"delete, entity", "DELETE", "/alice/container/hidden/app:v1", bob.sign("delete", "hidden", "app", "v1"), "", ""},
		{"push, entity", "POST", "/alice/api/upload/chunked_upload", bob.sign("push", "hidden", "app", "v2"), "", pushBody},
		{"rotate", "POST", "/alice/api/collection/hidden/secret", bearer, "", ""},
	}
	send := func(r request) string {
		t.Helper()
		req, _ := http.NewRequest(r.method, e.srv.URL+r.path, strings.NewReader(r.body))
		if r.authz != "" {
			req.Header.Set("Authorization", r.authz)
		}
		req.Header.Set("User-Agent", r.ua)
		res, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b strings.Builder
		if _, err := fmt.Fprint(&b, res.Status, res.Header.Get("Content-Type"), res.Header.Get("Allow")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1<<16)
		n, _ := res.Body.Read(buf)
		for n < len(buf) {
			k, err := res.Body.Read(buf[n:])
			n += k
			if err != nil {
				break
			}
		}
		return b.String() + " " + string(buf[:n])
	}
	private := make([]string, len(requests))
	for i, r := range requests {
		private[i] = send(r)
		t.Logf("%s: %s", r.name, private[i])
		if strings.Contains(private[i], "hidden/app:v1\"") || strings.Contains(private[i], `"secret"`) {
			t.Fatalf("%s shows the private collection: %s", r.name, private[i])
		}
	}
	// The owner sees it (the fixture works).
	if got := e.cli("alice").pull("hidden", "app", "v1"); got.outcome != "ok" {
		t.Fatalf("alice: %s", got.outcome)
	}
	col, err := e.srv.Meta.GetEntityByName(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	hidden, err := e.srv.Meta.GetCollectionByName(context.Background(), col.ID, "hidden")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Meta.DeleteCollection(context.Background(), hidden.ID); err != nil {
		t.Fatal(err)
	}
	for i, r := range requests {
		if missing := send(r); missing != private[i] {
			t.Errorf("%s:\n private %s\n missing %s", r.name, private[i], missing)
		}
	}
}
