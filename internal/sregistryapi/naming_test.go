package sregistryapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/config"
)

// Bare names resolve to the one collection of that name the caller may
// see; several are an error naming the full forms, which always work.
func TestNaming(t *testing.T) {
	e := newEnv(t)
	one, oneBytes := makeSIF(t, "amd64", 4096, 1)
	two, twoBytes := makeSIF(t, "amd64", 4096, 2)
	e.libPush("alice", one, "alice/tools/app", "latest")
	e.libPush("bob", two, "bob/tools/app", "latest")
	e.setPrivate("bob", "bob/tools", true)

	// Anonymous callers see alice's only: bare is alice's.
	if got, _, err := e.shub().pull("shub://HOST/tools/app"); err != nil || !equal(got, oneBytes) {
		t.Fatalf("bare shub pull: %v", err)
	}
	// sregistry-cli's first manifest GET is anonymous (SR §3.1): it gets
	// what anonymous callers see, and signs only after a 403.
	got := e.cli("bob").pull("tools", "app", "latest")
	if got.outcome != "ok" || !equal(got.file, oneBytes) {
		t.Fatalf("bob's bare pull: %s", got.outcome)
	}
	// Signed, bob sees both: bare is ambiguous, for pulls, pushes and
	// listings, and the error names the full forms.
	bc := e.cli("bob")
	if res, _ := bc.get(bc.base+"/container/tools/app:latest", bc.sign("pull", "tools", "app", "latest")); res.StatusCode != http.StatusNotFound {
		t.Fatalf("bob's signed bare pull: %d", res.StatusCode)
	}
	st, _, b := e.do("GET", "/api/collection/tools", "Bearer "+e.users["bob"].token, nil)
	d := wantDetail(t, st, b, http.StatusNotFound)
	for _, want := range []string{"ambiguous", "alice, bob", "/alice/api/container/tools/", "shub://HOST/alice/tools/"} {
		if !strings.Contains(d, want) {
			t.Fatalf("ambiguity %q lacks %q", d, want)
		}
	}
	res := e.cli("bob").push(two, "tools", "app", "v2")
	if d := wantDetail(t, res.status1, res.body1, http.StatusNotFound); !strings.Contains(d, "ambiguous") {
		t.Fatalf("bob's bare push: %q", d)
	}
	// The entity forms name each.
	for _, tc := range []struct {
		who, entity string
		want        []byte
	}{{"bob", "bob", twoBytes}, {"bob", "alice", oneBytes}, {"alice", "alice", oneBytes}} {
		got := e.cli(tc.who, e.srv.URL+"/"+tc.entity).pull("tools", "app", "latest")
		if got.outcome != "ok" || !equal(got.file, tc.want) || got.manifest["entity"] != tc.entity {
			t.Fatalf("%s pulls %s/tools/app: %s", tc.who, tc.entity, got.outcome)
		}
	}
	if res := e.cli("bob", e.srv.URL+"/bob").push(two, "tools", "app", "v2"); res.status2 != 200 {
		t.Fatalf("bob's entity push: %+v", res)
	}
	// A bare push of a collection no one has goes to the pusher's entity.
	if res := e.cli("bob").push(two, "brandnew", "app", "v1"); res.status2 != 200 || !equal(e.libPull("bob", "bob/brandnew/app", "v1"), twoBytes) {
		t.Fatalf("bare push of a new collection: %+v", res)
	}
}

// With sregistry.default_entity set, bare names are that entity's.
func TestDefaultEntity(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.SRegistry.DefaultEntity = "alice" })
	one, oneBytes := makeSIF(t, "amd64", 4096, 1)
	e.libPush("bob", one, "bob/tools/app", "latest")
	if got := e.cli("").pull("tools", "app", "latest"); got.outcome != "Unauthorized (403)" {
		t.Fatalf("bare pull of bob's: %s", got.outcome)
	}
	res := e.cli("bob").push(one, "tools", "app", "latest")
	if d := wantDetail(t, res.status1, res.body1, http.StatusForbidden); !strings.Contains(d, "alice/tools/app") {
		t.Fatalf("bob's bare push: %q", d)
	}
	if res := e.cli("alice").push(one, "tools", "app", "latest"); res.status2 != 200 {
		t.Fatalf("alice's bare push: %+v", res)
	}
	if got, _, err := e.shub().pull("shub://HOST/tools/app"); err != nil || !equal(got, oneBytes) {
		t.Fatalf("bare pull: %v", err)
	}
}

// Every route answers with and without a trailing slash, never
// redirects, says which methods a path has, and answers unknown paths in
// the protocol's format; the web UI's /api pages are not this API's.
func TestRouting(t *testing.T) {
	e := newEnv(t)
	path, _ := makeSIF(t, "amd64", 4096, 1)
	e.libPush("alice", path, "alice/tools/app", "latest")
	for _, p := range []string{"/api/collections", "/api/collections/", "/api/collection/tools", "/api/collection/tools/",
		"/api/container/tools/app:latest", "/api/container/tools/app:latest/", "/alice/api/collections/",
		"/api/labels/search/", "/api/container/search/collection/tools/name/app/tag/latest/", "/api/registry/identity"} {
		if st, _, b := e.do("GET", p, "", nil); st != 200 {
			t.Errorf("GET %s: %d %s", p, st, b)
		}
	}
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"PUT", "/api/collections/", http.StatusMethodNotAllowed},
		{"GET", "/upload", http.StatusMethodNotAllowed},
		{"GET", "/api/upload/chunked_upload", http.StatusMethodNotAllowed},
		{"GET", "/container/tools/app:latest", http.StatusMethodNotAllowed},
		{"GET", "/api/nothing", http.StatusNotFound},
		{"GET", "/api/container/tools", http.StatusNotFound},
		{"GET", "/alice/api/nothing", http.StatusNotFound},
	} {
		st, h, b := e.do(tc.method, tc.path, "", nil)
		wantDetail(t, st, b, tc.status)
		if tc.status == http.StatusMethodNotAllowed && h.Get("Allow") == "" {
			t.Errorf("%s %s: no Allow", tc.method, tc.path)
		}
	}
	// Not ours: the web UI's exact /api pages (its HTML page and the
	// OpenAPI document), and other top-level paths.
	for p, want := range map[string]string{"/api": "<!doctype html>", "/api/openapi.json": `"openapi"`} {
		if st, _, b := e.do("GET", p, "", nil); st != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %d %.200s, want the web UI's", p, st, b)
		}
	}
	for _, p := range []string{"/alice/nothing", "/v1/api/collections"} {
		if st, _, b := e.do("GET", p, "", nil); st == 200 || strings.Contains(string(b), `"count"`) {
			t.Errorf("GET %s answered by sregistry: %d %s", p, st, b)
		}
	}
}
