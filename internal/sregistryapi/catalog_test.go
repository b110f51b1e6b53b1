package sregistryapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// uris lists the "uri" of every container of the collections in a
// /api/collections/ answer or a /api/collection/<name> one.
func uris(t *testing.T, v any) []string {
	t.Helper()
	var cols []any
	switch x := v.(type) {
	case map[string]any:
		if r, ok := x["results"].([]any); ok {
			if x["next"] != nil || x["previous"] != nil {
				t.Fatalf("next/previous not null: %v", x)
			}
			cols = r
		} else {
			cols = []any{x}
		}
	}
	out := []string{}
	for _, c := range cols {
		cm := c.(map[string]any)
		for _, k := range cm["containers"].([]any) {
			km := k.(map[string]any)
			out = append(out, cm["entity"].(string)+":"+km["uri"].(string))
			if !strings.HasSuffix(km["detail"].(string), "/"+cm["entity"].(string)+"/api/container/"+km["uri"].(string)) {
				t.Fatalf("detail %v", km["detail"])
			}
		}
	}
	return out
}

// Every form of `sregistry search` (SR §3.3), with what it must and must
// not show.
func TestSearch(t *testing.T) {
	e := newEnv(t)
	path, _ := makeSIF(t, "amd64", 4096, 1)
	e.libPush("alice", path, "alice/tools/app", "latest", "v1")
	e.libPush("alice", path, "alice/secret/app", "latest")
	e.setPrivate("alice", "alice/secret", true)
	e.libPush("bob", path, "bob/btools/x", "latest")
	c := e.cli("")
	st, v := c.search("")
	if got := strings.Join(uris(t, v), " "); st != 200 || got != "alice:tools/app:latest alice:tools/app:v1 bob:btools/x:latest" {
		t.Fatalf("search: %d %s", st, got)
	}
	if v.(map[string]any)["count"].(float64) != 2 {
		t.Fatalf("count %v", v)
	}
	for _, q := range []string{"tools", "tools/"} {
		if st, v := c.search(q); st != 200 || strings.Join(uris(t, v), " ") != "alice:tools/app:latest alice:tools/app:v1" {
			t.Fatalf("search %s: %d %v", q, st, v)
		}
	}
	for _, q := range []string{"secret", "nothing"} {
		if st, v := c.search(q); st != 200 || len(v.(map[string]any)) != 0 {
			t.Fatalf("search %s: %d %v, want {}", q, st, v)
		}
	}
	st, v = c.search("tools/app:v1")
	list, _ := v.([]any)
	if st != 200 || len(list) != 1 {
		t.Fatalf("search tools/app:v1: %d %v", st, v)
	}
	if m := list[0].(map[string]any); m["collection"] != "tools" || m["name"] != "app" || m["tag"] != "v1" || m["entity"] != "alice" ||
		!strings.HasPrefix(m["version"].(string), "sha256.") || m["image"] != nil {
		t.Fatalf("search result %v", m)
	}
	for _, q := range []string{"tools/app:v9", "secret/app:latest"} {
		if st, v := c.search(q); st != 200 || len(v.([]any)) != 0 {
			t.Fatalf("search %s: %d %v, want []", q, st, v)
		}
	}
	// The entity's base lists that entity only; a Silo token shows what
	// its user may see.
	if _, v := e.cli("", e.srv.URL+"/bob").search(""); strings.Join(uris(t, v), " ") != "bob:btools/x:latest" {
		t.Fatalf("bob's entity: %v", v)
	}
	st, _, b := e.do("GET", "/api/collections", "Bearer "+e.users["alice"].token, nil)
	var all any
	if err := json.Unmarshal(b, &all); err != nil || st != 200 || !strings.Contains(strings.Join(uris(t, all), " "), "alice:secret/app:latest") {
		t.Fatalf("alice's listing: %d %s", st, b)
	}
	// Other search paths of the server (SR §3.3).
	st, _, b = e.do("GET", "/api/container/search/name/app/", "", nil)
	if st != 200 || strings.Count(string(b), `"name":"app"`) != 2 {
		t.Fatalf("search by name: %d %s", st, b)
	}
}

// Label searches (SR §3.5) list the containers whose images carry a
// label; private ones only to who may read them. The client lowercases
// what it asks (sregistry stores labels lowercased), so case is ignored
// and the labels come back as the SIF has them.
func TestLabels(t *testing.T) {
	e := newEnv(t)
	path, _ := makeLabelledSIF(t, map[string]string{"Maintainer": "VanessaSaur", "whatami": "dinosaur"}, "Bootstrap: docker\nFrom: alpine\n")
	c := e.cli("alice")
	for _, n := range []string{"tacos", "nachos"} {
		if res := c.push(path, "dinosaur", n, "latest"); res.status2 != 200 {
			t.Fatalf("push: %+v", res)
		}
	}
	e.libPush("alice", path, "alice/hidden/secret", "latest")
	e.setPrivate("alice", "alice/hidden", true)
	for _, tc := range []struct{ key, value, want string }{
		{"", "", `[{"key":"Maintainer","value":"VanessaSaur","containers":["dinosaur/nachos:latest","dinosaur/tacos:latest"]},{"key":"whatami","value":"dinosaur","containers":["dinosaur/nachos:latest","dinosaur/tacos:latest"]}]`},
		{"maintainer", "", `[{"key":"Maintainer","value":"VanessaSaur","containers":["dinosaur/nachos:latest","dinosaur/tacos:latest"]}]`},
		{"", "dinosaur", `[{"key":"whatami","value":"dinosaur","containers":["dinosaur/nachos:latest","dinosaur/tacos:latest"]}]`},
		{"MAINTAINER", "VanessaSaur", `[{"key":"Maintainer","value":"VanessaSaur","containers":["dinosaur/nachos:latest","dinosaur/tacos:latest"]}]`},
		{"maintainer", "nobody", `[]`},
	} {
		if st, b := e.cli("").labels(tc.key, tc.value); st != 200 || strings.TrimSpace(string(b)) != tc.want {
			t.Fatalf("labels %q %q: %d %s", tc.key, tc.value, st, b)
		}
	}
	st, _, b := e.do("GET", "/api/labels/search/maintainer/key", "Bearer "+e.users["alice"].token, nil)
	if st != 200 || !strings.Contains(string(b), "hidden/secret:latest") {
		t.Fatalf("alice's labels: %d %s", st, b)
	}
	// The manifest's metadata comes from the stored inspection.
	got := e.cli("").pull("dinosaur", "tacos", "latest")
	md, _ := got.manifest["metadata"].(map[string]any)
	if got.outcome != "ok" || md["deffile"] != "Bootstrap: docker\nFrom: alpine\n" || md["size_mb"] != float64(1) || md["test"] != nil {
		t.Fatalf("metadata %v (%s)", got.manifest, got.outcome)
	}
}

// Delete (SR §3.4): the owner or an admin, never another user (sregistry
// lets any signed user delete); frozen containers keep their images.
func TestDelete(t *testing.T) {
	e := newEnv(t)
	path, data := makeSIF(t, "amd64", 4096, 1)
	e.libPush("alice", path, "alice/tools/app", "v1", "v2", "v3")
	e.libPush("alice", path, "alice/secret/app", "v1")
	e.setPrivate("alice", "alice/secret", true)
	st, b := e.cli("bob").delete("tools", "app", "v1")
	if d := wantDetail(t, st, b, http.StatusForbidden); !strings.Contains(d, "permission denied") {
		t.Fatalf("bob: %q", d)
	}
	// bob's answer for alice's private collection is that of a missing one.
	st1, b1 := e.cli("bob").delete("secret", "app", "v1")
	st2, b2 := e.cli("bob").delete("nothing", "app", "v1")
	wantDetail(t, st1, b1, http.StatusNotFound)
	if st1 != st2 || strings.Replace(string(b1), "secret", "nothing", 1) != string(b2) {
		t.Fatalf("private %d %s, missing %d %s", st1, b1, st2, b2)
	}
	st, b = e.cli("").delete("tools", "app", "v1")
	wantDetail(t, st, b, http.StatusForbidden)
	if !equal(e.libPull("", "alice/tools/app", "v1"), data) {
		t.Fatal("image gone")
	}
	e.freeze("alice", "alice/tools/app", true)
	st, b = e.cli("alice").delete("tools", "app", "v1")
	if d := wantDetail(t, st, b, http.StatusForbidden); !strings.Contains(d, "frozen") {
		t.Fatalf("frozen: %q", d)
	}
	e.freeze("alice", "alice/tools/app", false)
	// root is an admin; the image goes with every tag naming it.
	if st, b := e.cli("root").delete("tools", "app", "v1"); st != http.StatusNoContent || len(b) != 0 {
		t.Fatalf("admin delete: %d %s", st, b)
	}
	if imgs := e.images("alice/tools/app"); len(imgs) != 0 {
		t.Fatalf("left: %v", imgs)
	}
	st, b = e.cli("alice").delete("tools", "app", "v1")
	wantDetail(t, st, b, http.StatusNotFound)
	if st, b := e.cli("alice").delete("secret", "app", "v1"); st != http.StatusNoContent {
		t.Fatalf("owner delete: %d %s", st, b)
	}
}
