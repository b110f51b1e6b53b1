package webui_test

import (
	"net/http"
	"testing"

	"github.com/silo-hpc/silo/internal/apidoc"
)

// /api is the document as a page; /api/openapi.json the document.
func TestAPIPages(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	for _, path := range []string{"/api", "/api/"} {
		want(t, b.get(path), http.StatusOK, "Silo API", "/api/openapi.json", "<summary>", "/v1/tokens",
			"Create an API token", "/v2/{name}/manifests/{reference}", "Schemas", `id="createToken"`)
	}
	p := b.get("/api/openapi.json")
	doc, _ := apidoc.JSON()
	if p.status != http.StatusOK || p.body != string(doc) || p.header.Get("Content-Type") != "application/json" {
		t.Fatalf("openapi.json: %d %s", p.status, p.header.Get("Content-Type"))
	}
	// The rest of /api/ is not the interface's (the sregistry API's).
	if p := b.get("/api/container/a/b:c"); p.status != http.StatusNotFound {
		t.Fatalf("/api/container: %d", p.status)
	}
}
