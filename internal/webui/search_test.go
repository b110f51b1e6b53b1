package webui_test

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// The search page shows entities too, and pages the results newest
// first: a page on which a kind is full links the older one, which
// holds the rest and links back; an out-of-range page is a clear error.
func TestSearchPages(t *testing.T) {
	e := newEnv(t)
	e.mustPush("alice", smallSIF(t, "first"), "alice/zoo/pangolin-0", "latest")
	col := e.id("alice", "/v1/collections/alice/zoo")
	for i := 1; i <= 54; i++ {
		e.create("alice", "/v1/containers", fmt.Sprintf(`{"name":"pangolin-%d","collection":%q}`, i, col))
	}
	b := e.browser()

	first := b.get("/search?q=pangolin")
	want(t, first, http.StatusOK, "Older results", "page=2")
	lacks(t, first, "Newer results")
	// Newest first: the last containers made are on the first page.
	if got := containersIn(first.body); len(got) != 50 || got[0] != "pangolin-54" || got[49] != "pangolin-5" {
		t.Fatalf("first page: %d containers, %v", len(got), got)
	}
	second := b.get("/search?q=pangolin&page=2")
	want(t, second, http.StatusOK, "Newer results", "page=1")
	lacks(t, second, "Older results")
	if got := containersIn(second.body); len(got) != 5 || got[0] != "pangolin-4" || got[4] != "pangolin-0" {
		t.Fatalf("second page: %v", got)
	}
	want(t, b.get("/search?q=pangolin&page=3"), http.StatusOK, "Nothing more found.", "Newer results")
	want(t, b.get("/search?q=pangolin&page=0"), http.StatusOK, "page must be between 1 and")
	want(t, b.get("/search?q=pangolin&page=x"), http.StatusOK, "page must be between 1 and")

	// Entities are results too.
	want(t, b.get("/search?q=alic"), http.StatusOK, "<h2>Entities</h2>", `href="/library/alice"`)
}

// containersIn lists the container names a search page links, in order.
func containersIn(body string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`href="/library/alice/zoo/([^"?]+)"`).FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// create POSTs a Library API create call as user.
func (e *env) create(user, path, body string) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	if b, _ := io.ReadAll(res.Body); res.StatusCode != http.StatusOK {
		e.t.Fatalf("POST %s as %s: %d %s", path, user, res.StatusCode, b)
	}
}
