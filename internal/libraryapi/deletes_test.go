package libraryapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/apperr"
)

// TestDeletes: owners delete a tag (its OCI tag follows), a container
// (with its OCI repository) and a collection; others are refused; a
// frozen container keeps its tags and is not deleted, nor is the
// collection holding it.
func TestDeletes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice := e.client("alice")
	alice.mustPush(t, makeSIF(t, "amd64", 4096, 1), "alice/tools/app", "amd64", "latest", "v1")
	alice.mustPush(t, makeSIF(t, "amd64", 4096, 2), "alice/tools/other", "amd64", "latest")
	var con, other struct{ ID string }
	var col struct{ ID string }
	e.doJSON("GET", "/v1/containers/alice/tools/app", e.tokens["alice"], nil, &con)
	e.doJSON("GET", "/v1/containers/alice/tools/other", e.tokens["alice"], nil, &other)
	e.doJSON("GET", "/v1/collections/alice/tools", e.tokens["alice"], nil, &col)
	tok := e.tokens["alice"]

	// Tags: bob is refused, a missing tag is 404, alice deletes v1.
	st, b := e.do("DELETE", "/v1/tags/"+con.ID+"?tag=v1&arch=amd64", e.tokens["bob"], nil)
	if msg := wantError(t, st, b, http.StatusForbidden); !strings.Contains(msg, "permission denied") {
		t.Fatalf("bob: %s", msg)
	}
	st, b = e.do("DELETE", "/v1/tags/"+con.ID+"?tag=v2&arch=amd64", tok, nil)
	wantError(t, st, b, http.StatusNotFound)
	if st, b := e.do("DELETE", "/v1/tags/"+con.ID+"?tag=v1&arch=amd64", tok, nil); st != http.StatusOK {
		t.Fatalf("delete tag: %d %s", st, b)
	}
	var tags map[string]string
	if st, b := e.doJSON("GET", "/v1/tags/"+con.ID, tok, nil, &tags); st != http.StatusOK || len(tags) != 1 || tags["latest"] == "" {
		t.Fatalf("tags after delete: %d %s", st, b)
	}
	repo, err := e.srv.Meta.GetRepository(ctx, "alice/tools/app")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Meta.GetTag(ctx, repo.ID, "v1"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("the OCI tag stayed: %v", err)
	}

	// Frozen: no tag delete, no container delete, no collection delete.
	if st, b := e.doJSON("PUT", "/v1/containers/"+con.ID, tok, `{"frozen":true}`, nil); st != http.StatusOK {
		t.Fatalf("freeze: %d %s", st, b)
	}
	for _, path := range []string{"/v1/tags/" + con.ID + "?tag=latest&arch=amd64", "/v1/containers/" + con.ID, "/v1/collections/" + col.ID} {
		st, b := e.do("DELETE", path, tok, nil)
		if msg := wantError(t, st, b, http.StatusForbidden); !strings.Contains(msg, "frozen") {
			t.Fatalf("DELETE %s in a frozen container: %s", path, msg)
		}
	}
	e.doJSON("PUT", "/v1/containers/"+con.ID, tok, `{"frozen":false}`, nil)

	// Containers: the container, its images and its OCI repository go.
	if st, b := e.do("DELETE", "/v1/containers/"+con.ID, e.tokens["bob"], nil); st != http.StatusForbidden {
		t.Fatalf("bob deleting a container: %d %s", st, b)
	}
	if st, b := e.do("DELETE", "/v1/containers/"+con.ID, tok, nil); st != http.StatusOK {
		t.Fatalf("delete container: %d %s", st, b)
	}
	st, b = e.do("GET", "/v1/containers/alice/tools/app", tok, nil)
	wantError(t, st, b, http.StatusNotFound)
	if _, err := e.srv.Meta.GetRepository(ctx, "alice/tools/app"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("the OCI repository stayed: %v", err)
	}
	// Collections: with what is left in them.
	if st, b := e.do("DELETE", "/v1/collections/"+col.ID, tok, nil); st != http.StatusOK {
		t.Fatalf("delete collection: %d %s", st, b)
	}
	for _, path := range []string{"/v1/collections/alice/tools", "/v1/containers/alice/tools/other"} {
		st, b := e.do("GET", path, tok, nil)
		wantError(t, st, b, http.StatusNotFound)
	}
	// A fresh push recreates it all.
	alice.mustPush(t, makeSIF(t, "amd64", 4096, 1), "alice/tools/app", "amd64", "latest")
}
