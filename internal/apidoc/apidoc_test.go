package apidoc_test

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/silo-hpc/silo/internal/accountapi"
	"github.com/silo-hpc/silo/internal/apidoc"
	"github.com/silo-hpc/silo/internal/libraryapi"
	"github.com/silo-hpc/silo/internal/ociapi"
	"github.com/silo-hpc/silo/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// load parses the served JSON with kin-openapi.
func load(t *testing.T) *openapi3.T {
	t.Helper()
	b, err := apidoc.JSON()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// The document is valid OpenAPI 3 (kin-openapi's validation, examples
// and all).
func TestDocumentIsValid(t *testing.T) {
	doc := load(t)
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	b, _ := apidoc.JSON()
	if err := json.Unmarshal(b, &raw); err != nil || raw["x-silo-fragments"] != nil {
		t.Fatalf("the served JSON carries the YAML's fragments: %v", err)
	}
	page, err := apidoc.Load()
	if err != nil || len(page.Groups) == 0 || len(page.Schemas) == 0 {
		t.Fatalf("page model: %v %+v", err, page)
	}
}

// shape reduces a path template to its literal parts: "{x}", "{x...}"
// and ociapi's "<x>" all become "*".
var paramRe = regexp.MustCompile(`\{[^}]+\}|<[^>]+>`)

func shape(method, path string) string {
	return strings.ToUpper(method) + " " + paramRe.ReplaceAllString(path, "*")
}

// The document describes exactly the routes the transports serve: every
// route of the Library API, the account API and OCI has an operation,
// and every operation a route.
func TestDocumentMatchesRoutes(t *testing.T) {
	served := map[string]bool{}
	for _, rt := range libraryapi.New(nil, nil, nil, "").Routes() {
		served[shape(rt.Method, rt.Pattern)] = true
	}
	for _, rt := range accountapi.New(nil, nil, nil).Routes() {
		served[shape(rt.Method, rt.Pattern)] = true
	}
	for _, rt := range ociapi.New(nil, nil, "").Routes() {
		served[shape(rt.Method, rt.Pattern)] = true
	}
	// ociapi's fixed paths (ociapi.API.serve).
	for _, s := range []string{"GET /v2/", "GET /v2/token", "POST /v2/token", "GET /v2/_catalog"} {
		served[s] = true
	}
	documented := map[string]bool{}
	for path, item := range load(t).Paths.Map() {
		for method := range item.Operations() {
			documented[shape(method, path)] = true
		}
	}
	for _, s := range sortedKeys(served) {
		if !documented[s] {
			t.Errorf("served but not documented: %s", s)
		}
	}
	for _, s := range sortedKeys(documented) {
		if !served[s] {
			t.Errorf("documented but not served: %s", s)
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
