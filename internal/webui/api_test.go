package webui_test

import (
	"net/http"
	"strings"
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
	// The rest of /api/ is not the interface's but the sregistry API's:
	// its JSON error (403 or 404 by client, docs/sregistry.md), no page.
	if p := b.get("/api/container/a/b:c"); p.status < 400 || !strings.Contains(p.body, `"detail"`) || strings.Contains(p.body, "<html") {
		t.Fatalf("/api/container: %d %s", p.status, p.body)
	}
}

// The interface takes only the paths no other transport has: the other
// protocols answer as before, and an unknown path is the interface's 404
// for any method.
func TestMountLeavesOtherRoutes(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	for path, want := range map[string]string{
		"/healthz": "ok", "/version": `"apiVersion"`, "/v1/nope": `{"error":{"code":404`,
		"/assets/config/config.prod.json": `"libraryAPI"`, "/v2/": `"errors"`,
	} {
		p := b.get(path)
		if !strings.Contains(p.body, want) || strings.Contains(p.body, "<html") {
			t.Errorf("%s: %d %.200s", path, p.status, p.body)
		}
	}
	css := b.get("/static/silo.css")
	if css.status != http.StatusOK || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") ||
		!strings.Contains(css.header.Get("Cache-Control"), "max-age") {
		t.Errorf("stylesheet: %d %v", css.status, css.header)
	}
	if p := b.get("/v2/"); p.header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Errorf("/v2/ is not OCI's: %v", p.header)
	}
	for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
		req, _ := http.NewRequest(m, e.srv.URL+"/no/such/page", nil)
		if p := b.do(req); p.status != http.StatusNotFound {
			t.Errorf("%s /no/such/page: %d", m, p.status)
		}
	}
}
