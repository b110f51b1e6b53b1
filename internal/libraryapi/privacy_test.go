package libraryapi_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/sylabs/scs-library-client/client"

	"github.com/silo-hpc/silo/internal/meta"
)

// TestPrivacy: a private collection and everything in it is invisible to
// other users and anonymous clients in GetImage, downloads, searches and
// namespace GETs; team members pull but may not push; public images pull
// anonymously.
func TestPrivacy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.user("carol", meta.RoleUser)
	alice := e.client("alice")
	secret, open := makeSIF(t, "amd64", 4096, 1), makeSIF(t, "amd64", 4096, 2)
	alice.mustPush(t, secret, "alice/hidden/secretapp", "amd64", "latest")
	alice.mustPush(t, open, "alice/shown/openapp", "amd64", "latest")
	var col struct {
		ID      string `json:"id"`
		Private bool   `json:"private"`
	}
	e.doJSON("GET", "/v1/collections/alice/hidden", e.tokens["alice"], nil, &col)
	st, b := e.doJSON("PUT", "/v1/collections/"+col.ID, e.tokens["bob"], `{"private":true}`, nil)
	wantError(t, st, b, http.StatusForbidden)
	if st, b := e.doJSON("PUT", "/v1/collections/"+col.ID, e.tokens["alice"], `{"private":true}`, &col); st != http.StatusOK || !col.Private {
		t.Fatalf("make private: %d %s", st, b)
	}
	// carol is a collaborator: her team may pull the collection.
	team := meta.Team{Name: "lab"}
	must(t, e.srv.Meta.CreateTeam(ctx, &team))
	carol, _ := e.srv.Meta.GetUserByName(ctx, "carol")
	must(t, e.srv.Meta.AddTeamMember(ctx, team.ID, carol.ID))
	must(t, e.srv.Meta.GrantCollection(ctx, col.ID, team.ID))

	for _, who := range []string{"bob", ""} {
		c := e.client(who)
		if _, err := c.GetImage(ctx, "amd64", "alice/hidden/secretapp:latest"); !errors.Is(err, client.ErrNotFound) {
			t.Errorf("%q GetImage: %v, want not found", who, err)
		}
		if _, err := c.GetImage(ctx, "amd64", "alice/hidden/secretapp:"+fileHash(t, secret)); !errors.Is(err, client.ErrNotFound) {
			t.Errorf("%q GetImage by hash: %v, want not found", who, err)
		}
		if err := c.DownloadImage(ctx, new(strings.Builder), "amd64", "alice/hidden/secretapp", "latest", nil); err == nil || !strings.Contains(err.Error(), "not found") {
			t.Errorf("%q DownloadImage: %v, want not found", who, err)
		}
		res, err := c.Search(ctx, map[string]string{"value": "app", "arch": "amd64"})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(res.Images); n != 1 || res.Images[0].ContainerName != "openapp" {
			t.Errorf("%q search images: %+v", who, res.Images)
		}
		for _, path := range []string{"/v1/collections/alice/hidden", "/v1/containers/alice/hidden/secretapp"} {
			st, b := e.do("GET", path, e.tokens[who], nil)
			wantError(t, st, b, http.StatusNotFound)
		}
		if who == "" {
			c.pullBoth(t, "alice/shown/openapp", "latest", "amd64", open)
		}
	}
	if res, _ := e.client("").Search(ctx, map[string]string{"value": "hidden"}); res == nil || len(res.Collections) != 0 || len(res.Containers) != 0 {
		t.Errorf("anonymous search finds the private collection: %+v", res)
	}
	// Owner and collaborator see it; the collaborator may not push.
	alice.pullBoth(t, "alice/hidden/secretapp", "latest", "amd64", secret)
	cc := e.client("carol")
	cc.pullBoth(t, "alice/hidden/secretapp", "latest", "amd64", secret)
	if res, _ := cc.Search(ctx, map[string]string{"value": "secret"}); res == nil || len(res.Images) != 1 {
		t.Errorf("collaborator search: %+v", res)
	}
	if _, err := cc.push(t, open, "alice/hidden/secretapp", "amd64", "x"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("collaborator push: %v, want permission denied", err)
	}
	// Knowing the hash of a private image gives no access to it: bob's own
	// container gets a not-yet-uploaded image, so his client must upload.
	bob := e.client("bob")
	bob.mustPush(t, makeSIF(t, "amd64", 10, 5), "bob/mine/app", "amd64", "latest")
	var con struct{ ID string }
	e.doJSON("GET", "/v1/containers/bob/mine/app", e.tokens["bob"], nil, &con)
	var img struct{ Uploaded bool }
	st, b = e.doJSON("POST", "/v1/images", e.tokens["bob"], map[string]string{"hash": fileHash(t, secret), "container": con.ID}, &img)
	if st != http.StatusOK || img.Uploaded {
		t.Fatalf("bob claiming a private hash: %d %s", st, b)
	}
	// ... while the same content readable elsewhere deduplicates.
	st, b = e.doJSON("POST", "/v1/images", e.tokens["bob"], map[string]string{"hash": fileHash(t, open), "container": con.ID}, &img)
	if st != http.StatusOK || !img.Uploaded {
		t.Fatalf("bob reusing a public hash: %d %s", st, b)
	}
}

// TestSearch checks the four arrays, the arch filter and signed=true.
func TestSearch(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice := e.client("alice")
	alice.mustPush(t, makeSIF(t, "amd64", 1000, 1), "alice/biotools/blast", "amd64", "latest", "v1")
	alice.mustPush(t, makeSIF(t, "arm64", 1000, 2), "alice/biotools/blast", "arm64", "latest")
	res, err := e.client("").Search(ctx, map[string]string{"value": "blast", "arch": "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Containers) != 1 || len(res.Images) != 1 || *res.Images[0].Architecture != "arm64" {
		t.Fatalf("arm64 search: %+v", res)
	}
	res, _ = e.client("").Search(ctx, map[string]string{"value": "blast", "arch": "amd64,arm64"})
	if len(res.Images) != 2 {
		t.Fatalf("two arches: %+v", res.Images)
	}
	for _, img := range res.Images {
		if img.EntityName != "alice" || img.CollectionName != "biotools" || img.ContainerName != "blast" || len(img.Tags) == 0 {
			t.Fatalf("image names/tags missing: %+v", img)
		}
	}
	res, _ = e.client("").Search(ctx, map[string]string{"value": "blast", "signed": "true"})
	if len(res.Images) != 0 {
		t.Fatalf("unsigned images with signed=true: %+v", res.Images)
	}
	res, _ = e.client("").Search(ctx, map[string]string{"value": "biotools"})
	if len(res.Collections) != 1 || res.Collections[0].EntityName != "alice" {
		t.Fatalf("collections: %+v", res.Collections)
	}
	// All four arrays are present even when empty.
	st, b := e.do("GET", "/v1/search?value=nothing-like-this", "", nil)
	if st != http.StatusOK || !strings.Contains(string(b), `"entity":[]`) || !strings.Contains(string(b), `"image":[]`) ||
		!strings.Contains(string(b), `"collection":[]`) || !strings.Contains(string(b), `"container":[]`) {
		t.Fatalf("empty search: %d %s", st, b)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestPrivacyMessages: refusals about a private collection read exactly as
// if it did not exist, so neither its existence nor its name leaks.
func TestPrivacyMessages(t *testing.T) {
	e := newEnv(t)
	e.client("alice").mustPush(t, makeSIF(t, "amd64", 1000, 1), "alice/hidden/app", "amd64", "latest")
	var col, ent struct{ ID string }
	e.doJSON("GET", "/v1/collections/alice/hidden", e.tokens["alice"], nil, &col)
	e.doJSON("GET", "/v1/entities/alice", e.tokens["alice"], nil, &ent)
	if st, b := e.doJSON("PUT", "/v1/collections/"+col.ID, e.tokens["alice"], `{"private":true}`, nil); st != http.StatusOK {
		t.Fatalf("make private: %d %s", st, b)
	}
	// Creating it again: the same refusal as for a name that is free.
	st, b := e.doJSON("POST", "/v1/collections", e.tokens["bob"], `{"entity":"`+ent.ID+`","name":"hidden"}`, nil)
	hidden := wantError(t, st, b, http.StatusForbidden)
	st, b = e.doJSON("POST", "/v1/collections", e.tokens["bob"], `{"entity":"`+ent.ID+`","name":"hidden2"}`, nil)
	free := wantError(t, st, b, http.StatusForbidden)
	if strings.ReplaceAll(free, "hidden2", "hidden") != hidden {
		t.Errorf("existing private collection refused as %q, a free name as %q", hidden, free)
	}
	// Calls by id: 404 naming the id, never the collection.
	for _, tc := range []struct{ method, path, body string }{
		{"PUT", "/v1/collections/" + col.ID, `{"private":false}`},
		{"POST", "/v1/containers", `{"collection":"` + col.ID + `","name":"new"}`},
	} {
		st, b := e.doJSON(tc.method, tc.path, e.tokens["bob"], tc.body, nil)
		msg := wantError(t, st, b, http.StatusNotFound)
		if strings.Contains(msg, "hidden") || strings.Contains(msg, "alice") {
			t.Errorf("%s %s: message %q names the private collection", tc.method, tc.path, msg)
		}
	}
}
