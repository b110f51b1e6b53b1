package webui_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// What owners do in the browser: create a collection, make it private
// or public, freeze a container (and see a push to a frozen tag
// refused), delete tags, images, containers and collections after a
// confirmation page. Other users see no such controls and are refused.
func TestOwnerActions(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.login("alice"), e.login("bob")
	p := alice.get("/library/alice")
	want(t, p, http.StatusOK, "Create a collection")
	entityID := regexp.MustCompile(`name="entity_id" value="([^"]+)"`).FindStringSubmatch(p.body)[1]
	p = alice.post("/library/alice/-/collections", formOf("entity_id", entityID, "name", "made", "description", "made in a browser", "private", "private"))
	if p.status != http.StatusSeeOther || p.location != "/library/alice/made?done=collection" {
		t.Fatalf("create collection: %d %q %s", p.status, p.location, p.body)
	}
	want(t, alice.get(p.location), http.StatusOK, "The collection is created.", "made in a browser", "private", "Make public")
	lacks(t, bob.get("/library/alice"), "made", "Create a collection")
	want(t, alice.post("/library/alice/-/collections", formOf("entity_id", entityID, "name", "Bad Name")), http.StatusBadRequest, "invalid collection name")
	want(t, bob.post("/library/alice/-/collections", formOf("entity_id", entityID, "name", "bobs")), http.StatusForbidden, "permission denied")

	e.mustPush("alice", smallSIF(t, "one"), "alice/made/app", "latest", "v1")
	colID, conID := e.id("alice", "/v1/collections/alice/made"), e.id("alice", "/v1/containers/alice/made/app")
	want(t, alice.post("/library/alice/made/-/privacy", formOf("id", colID, "private", "false")), http.StatusSeeOther)
	p = bob.get("/library/alice/made/app")
	want(t, p, http.StatusOK, "latest", "v1")
	lacks(t, p, "Manage", "Freeze")
	want(t, bob.post("/library/alice/made/app/-/freeze", formOf("id", conID, "frozen", "true")), http.StatusForbidden, "only the owner")

	// Frozen: a push to an existing tag is refused, a new tag is added,
	// nothing of it can be deleted.
	want(t, alice.get("/library/alice/made/app"), http.StatusOK, "Freeze")
	p = alice.post("/library/alice/made/app/-/freeze", formOf("id", conID, "frozen", "true"))
	want(t, alice.get(p.location), http.StatusOK, "The container is frozen", "Unfreeze", `badge frozen`)
	if err := e.push("alice", smallSIF(t, "two"), "alice/made/app", "latest"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("push to a frozen tag: %v", err)
	}
	e.mustPush("alice", smallSIF(t, "two"), "alice/made/app", "v2")
	want(t, alice.post("/library/alice/made/app/-/delete-tag", formOf("id", conID, "tag", "v1", "arch", "amd64")), http.StatusForbidden, "frozen")
	want(t, alice.post("/library/alice/made/app/-/delete", formOf("id", conID)), http.StatusForbidden, "frozen")
	want(t, alice.post("/library/alice/made/-/delete", formOf("id", colID)), http.StatusForbidden, "frozen")
	want(t, alice.post("/library/alice/made/app/-/freeze", formOf("id", conID, "frozen", "false")), http.StatusSeeOther)

	// Deleting asks first.
	want(t, alice.get("/library/alice/made/app/-/delete-tag?tag=v1&arch=amd64"), http.StatusOK, "Delete the tag alice/made/app:v1 for amd64?", "Cancel")
	p = alice.post("/library/alice/made/app/-/delete-tag", formOf("id", conID, "tag", "v1", "arch", "amd64"))
	if p.status != http.StatusSeeOther {
		t.Fatalf("delete tag: %d %s", p.status, p.body)
	}
	p = alice.get("/library/alice/made/app")
	lacks(t, p, ">v1<")
	hash := regexp.MustCompile(`delete-image\?image=(sha256\.[0-9a-f]+)`).FindStringSubmatch(p.body)
	if hash == nil {
		t.Fatalf("no image delete link: %s", p.body)
	}
	want(t, alice.get("/library/alice/made/app/-/delete-image?image="+hash[1]), http.StatusOK, "Delete the image "+hash[1])
	want(t, alice.post("/library/alice/made/app/-/delete-image", formOf("image", hash[1])), http.StatusSeeOther)
	lacks(t, alice.get("/library/alice/made/app"), hash[1])
	want(t, alice.get("/library/alice/made/app/-/delete"), http.StatusOK, "Delete the container alice/made/app?")
	p = alice.post("/library/alice/made/app/-/delete", formOf("id", conID))
	if p.status != http.StatusSeeOther || p.location != "/library/alice/made?done=deleted" {
		t.Fatalf("delete container: %d %q", p.status, p.location)
	}
	want(t, alice.get("/library/alice/made/app"), http.StatusNotFound)
	want(t, alice.get("/library/alice/made/-/delete"), http.StatusOK, "Delete the collection alice/made?", "Its 0 containers go")
	want(t, alice.post("/library/alice/made/-/delete", formOf("id", colID)), http.StatusSeeOther)
	want(t, alice.get("/library/alice/made"), http.StatusNotFound)
	if _, err := e.libClient("alice").GetImage(context.Background(), "amd64", "alice/made/app:v2"); err == nil {
		t.Fatal("the deleted collection's image is still there")
	}
}

// The container page shows what the server read from the SIF: tags per
// architecture, sizes, labels, definition file, runscript, environment,
// test, signatures, and pull commands for each scheme.
func TestContainerPage(t *testing.T) {
	e := newEnv(t)
	e.mustPush("alice", builtSIF(t, "meta", map[string]string{"org.example.team": "imaging"}), "alice/tools/viewer", "latest", "1.0")
	p := e.browser().get("/library/alice/tools/viewer")
	want(t, p, http.StatusOK,
		"singularity pull --library "+e.srv.URL+" library://alice/tools/viewer:latest",
		"singularity pull oras://"+e.srv.Host+"/alice/tools/viewer:latest",
		"singularity pull --no-https shub://"+e.srv.Host+"/alice/tools/viewer:latest",
		">latest<", ">1.0<", "amd64", "KiB",
		"org.example.team", "imaging", "Maintainer", "hpc@example.org",
		"Definition file", "Bootstrap: docker", "# meta",
		"Runscript", "Hello from the runscript", "Test", "Environment", "90-environment.sh",
		"Not signed.", "Partitions", "1 image, ", "0 downloads")
	lacks(t, p, "Manage")
	var sink strings.Builder
	if err := e.libClient("").DownloadImage(context.Background(), &sink, "amd64", "alice/tools/viewer", "latest", nil); err != nil {
		t.Fatal(err)
	}
	want(t, e.browser().get("/library/alice/tools/viewer"), http.StatusOK, "1 download;", `<dt>Downloads</dt><dd>1</dd>`)
}
