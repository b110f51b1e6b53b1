package webui_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sylabs/scs-library-client/client"
)

// privateFixture: alice's private collection alice/secret (container app,
// a built image labelled project=hush) granted to team lab, whose member
// is carol; and her public alice/open/tool.
type privateFixture struct {
	collectionID, containerID, hash string
}

func newPrivateFixture(t *testing.T, e *env) privateFixture {
	t.Helper()
	e.mustPush("alice", builtSIF(t, "secret", map[string]string{"project": "hush"}), "alice/secret/app", "latest")
	e.mustPush("alice", smallSIF(t, "open"), "alice/open/tool", "latest")
	f := privateFixture{collectionID: e.id("alice", "/v1/collections/alice/secret"), containerID: e.id("alice", "/v1/containers/alice/secret/app")}
	img, err := e.libClient("alice").GetImage(context.Background(), "amd64", "alice/secret/app:latest")
	if err != nil {
		t.Fatal(err)
	}
	f.hash = img.Hash
	alice := e.login("alice")
	alice.get("/library/alice/secret")
	want(t, alice.post("/library/alice/secret/-/privacy", formOf("id", f.collectionID, "private", "true")), http.StatusSeeOther)
	root := e.login("root")
	root.get("/teams")
	want(t, root.post("/teams", formOf("name", "lab")), http.StatusSeeOther)
	want(t, root.post("/teams/lab/members", formOf("user", "carol")), http.StatusSeeOther)
	want(t, alice.post("/library/alice/secret/-/grants", formOf("id", f.collectionID, "team", "lab")), http.StatusSeeOther)
	return f
}

// same checks two pages are one answer once each names what it was
// asked for as NAME: what a private thing gets is what a missing one
// gets.
func same(t *testing.T, what string, private page, privName string, missing page, missName string) {
	t.Helper()
	a := strings.ReplaceAll(private.body, privName, "NAME")
	b := strings.ReplaceAll(missing.body, missName, "NAME")
	if private.status != missing.status || a != b || private.location != missing.location {
		t.Errorf("%s: private %d %q, missing %d %q\n--- private\n%.1500s\n--- missing\n%.1500s", what,
			private.status, private.location, missing.status, missing.location, a, b)
	}
}

// Privacy in every page: to a stranger and to an anonymous browser,
// alice's private collection is absent from listings, searches (by name
// and by label) and recent pushes, and every page and action on it
// answers as on a missing one; a member of the granted team sees it,
// with its metadata, and may not change it.
func TestPrivacyInEveryPage(t *testing.T) {
	e := newEnv(t)
	f := newPrivateFixture(t, e)
	t.Run("as a stranger", func(t *testing.T) { hiddenFrom(t, e, f, e.login("bob")) })
	t.Run("as anonymous", func(t *testing.T) { hiddenFrom(t, e, f, e.browser()) })
	t.Run("as a team member", func(t *testing.T) { seenByMember(t, e, f) })
	t.Run("collaborators pull through every protocol and never push", func(t *testing.T) { memberProtocols(t, e) })
}

// hiddenFrom checks b (signed in as a stranger, or not at all) sees the
// private collection nowhere, and gets on each of its pages and forms
// what a missing one gets.
func hiddenFrom(t *testing.T, e *env, f privateFixture, b *browser) {
	pages := []struct{ private, missing string }{
		{"/library/alice/secret", "/library/alice/nosuch"},
		{"/library/alice/secret/app", "/library/alice/nosuch/app"},
		{"/library/alice/secret/app?image=" + f.hash, "/library/alice/nosuch/app?image=" + f.hash},
		{"/library/alice/secret/-/delete", "/library/alice/nosuch/-/delete"},
		{"/library/alice/secret/app/-/delete", "/library/alice/nosuch/app/-/delete"},
		{"/library/alice/secret/app/-/delete-tag?tag=latest&arch=amd64", "/library/alice/nosuch/app/-/delete-tag?tag=latest&arch=amd64"},
		{"/library/alice/secret/app/-/delete-image?image=" + f.hash, "/library/alice/nosuch/app/-/delete-image?image=" + f.hash},
	}
	for _, pg := range pages {
		same(t, pg.private, b.get(pg.private), "secret", b.get(pg.missing), "nosuch")
	}
	ent := b.get("/library/alice")
	want(t, ent, http.StatusOK, "/library/alice/open")
	lacks(t, ent, "secret")
	lacks(t, b.get("/"), "alice/secret")
	for _, path := range []string{"/search?q=secret", "/search?q=app", "/search?label=project%3Dhush", "/search?label=project"} {
		p := b.get(path)
		lacks(t, p, "alice/secret")
		if path != "/search?q=app" {
			want(t, p, http.StatusOK, "Nothing found.")
		}
	}
	want(t, b.get("/search?q=tool"), http.StatusOK, "alice/open/tool")
	if b.csrf == "" {
		return // signed out: the forms send the browser to log in
	}
	hiddenFromForms(t, f, b)
}

// hiddenFromForms posts every owner form on the private collection and
// on a missing one: the same answer.
func hiddenFromForms(t *testing.T, f privateFixture, b *browser) {
	missingID := strings.Repeat("0a", 12)
	for _, path := range []string{"/library/alice/c/-/privacy", "/library/alice/c/-/grants", "/library/alice/c/-/delete",
		"/library/alice/c/k/-/freeze", "/library/alice/c/k/-/delete", "/library/alice/c/k/-/delete-tag"} {
		id := f.collectionID
		if strings.Contains(path, "/k/") {
			id = f.containerID
		}
		fields := formOf("id", id, "private", "false", "team", "lab", "frozen", "true", "tag", "latest", "arch", "amd64")
		pp := b.post(path, fields)
		fields.Set("id", missingID)
		mp := b.post(path, fields)
		same(t, "POST "+path, pp, id, mp, missingID)
		if pp.status != http.StatusNotFound {
			t.Errorf("POST %s on a private thing: %d", path, pp.status)
		}
	}
	// Forms that name the collection by path rather than by id.
	for _, action := range []string{"rotate-urls"} {
		pp := b.post("/library/alice/secret/-/"+action, nil)
		same(t, "POST "+action, pp, "secret", b.post("/library/alice/nosuch/-/"+action, nil), "nosuch")
		if pp.status != http.StatusNotFound {
			t.Errorf("POST %s on a private collection: %d", action, pp.status)
		}
	}
}

// seenByMember: carol, in the granted team, sees it all and changes
// nothing.
func seenByMember(t *testing.T, e *env, f privateFixture) {
	carol := e.login("carol")
	want(t, carol.get("/library/alice"), http.StatusOK, "/library/alice/secret", "private")
	p := carol.get("/library/alice/secret/app")
	want(t, p, http.StatusOK, "Hello from the runscript", "project", "hush", "Definition file", "Environment",
		"singularity pull oras://"+e.srv.Host+"/alice/secret/app:latest")
	lacks(t, p, "Manage", "Delete")
	want(t, carol.get("/search?q=secret"), http.StatusOK, "alice/secret/app")
	want(t, carol.get("/search?label=project%3Dhush"), http.StatusOK, "alice/secret/app")
	want(t, carol.get("/"), http.StatusOK, "alice/secret/app")
	want(t, carol.post("/library/alice/secret/app/-/freeze", formOf("id", f.containerID, "frozen", "true")),
		http.StatusForbidden, "only the owner")
	want(t, carol.get("/library/alice/secret/-/delete"), http.StatusOK) // she may look; deleting is refused:
	want(t, carol.post("/library/alice/secret/-/delete", formOf("id", f.collectionID)), http.StatusForbidden)
	want(t, carol.post("/library/alice/secret/-/rotate-urls", nil), http.StatusForbidden)
}

// memberProtocols: the member pulls with the Library API and OCI and
// finds it in the Library API's search; pushing is refused; a stranger
// gets nothing.
func memberProtocols(t *testing.T, e *env) {
	ctx := context.Background()
	var sink strings.Builder
	if err := e.libClient("carol").DownloadImage(ctx, &sink, "amd64", "alice/secret/app", "latest", nil); err != nil {
		t.Fatalf("library pull: %v", err)
	}
	if err := e.libClient("bob").DownloadImage(ctx, &sink, "amd64", "alice/secret/app", "latest", nil); err == nil {
		t.Fatal("a stranger pulled")
	}
	ref, err := name.ParseReference(e.srv.Host+"/alice/secret/app:latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Get(ref, remote.WithAuth(&authn.Basic{Username: "carol", Password: e.tokens["carol"]})); err != nil {
		t.Fatalf("OCI pull by a member: %v", err)
	}
	if _, err := remote.Get(ref, remote.WithAuth(&authn.Basic{Username: "bob", Password: e.tokens["bob"]})); err == nil {
		t.Fatal("OCI pull by a stranger")
	}
	err = e.push("carol", smallSIF(t, "carol"), "alice/secret/app", "mine")
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("a member pushed: %v", err)
	}
	res, err := e.libClient("carol").Search(ctx, map[string]string{"value": "secret"})
	if err != nil || len(res.Collections) != 1 || len(res.Images) != 1 {
		t.Fatalf("member's Library API search: %+v %v", res, err)
	}
	if _, err := e.libClient("bob").GetImage(ctx, "amd64", "alice/secret/app:latest"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("stranger's GetImage: %v", err)
	}
}
