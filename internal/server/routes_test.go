package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/libraryapi"
	"github.com/silo-hpc/silo/internal/ociapi"
	"github.com/silo-hpc/silo/internal/servertest"
	"github.com/silo-hpc/silo/internal/sregistryapi"
)

// ociAnswer reports whether a response came from the OCI router (it
// stamps every answer with the API version header).
func ociAnswer(resp *http.Response) bool {
	return resp.Header.Get("Docker-Distribution-API-Version") == "registry/2.0"
}

// The two protocols share /v2; each has its own router, and no path of
// one is taken by the other: every OCI route, for repositories named like
// Library API paths and with Library API words as references, reaches
// OCI; every Library API /v2 route reaches the Library API. Both lists
// come from the routers' own tables.
func TestV2Routing(t *testing.T) {
	srv := servertest.Start(t)
	do := func(method, path string) *http.Response {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	names := []string{"imagefile", "imagefile/0123456789abcdef01234567", "tags", "v1", "x/upload",
		"api", "api/container/x", "x/api", "upload", "container/x"}
	params := []string{"_complete", "_multipart", "_multipart_complete", "_multipart_abort", "0123456789abcdef01234567"}
	for _, rt := range ociapi.New(nil, nil, "").Routes() {
		for _, name := range names {
			for _, param := range params {
				path := strings.NewReplacer("<name>", name, "<param>", param).Replace(rt.Pattern)
				if resp := do(rt.Method, path); !ociAnswer(resp) {
					t.Errorf("%s %s went to the Library API (%d)", rt.Method, path, resp.StatusCode)
				}
			}
		}
	}
	for _, rt := range libraryapi.New(nil, nil, nil, "").Routes() {
		if !strings.HasPrefix(rt.Pattern, "/v2/") {
			continue
		}
		path := strings.NewReplacer("{id}", "0123456789abcdef01234567", "{part}", "1").Replace(rt.Pattern)
		if resp := do(rt.Method, path); ociAnswer(resp) {
			t.Errorf("%s %s went to OCI (%d)", rt.Method, path, resp.StatusCode)
		}
	}
}

// sregistryAnswer reports whether a response came from the sregistry
// router: JSON with "detail", or a 2xx it alone gives.
func sregistryAnswer(resp *http.Response, body string) bool {
	return resp.Header.Get("Content-Type") == "application/json" && strings.HasPrefix(body, `{"detail":`)
}

// Every sregistry route answers, bare and under an entity, from the
// sregistry router; /v1 and /v2 paths shaped like sregistry's (a first
// segment, then "api", "upload" or "container") stay their routers'.
func TestSRegistryRouting(t *testing.T) {
	srv := servertest.Start(t)
	do := func(method, path string) (*http.Response, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	fill := strings.NewReplacer("{collection}", "c", "{ref}", "n:t", "{name}", "n", "{tag}", "t", "{key}", "k",
		"{value}", "v", "{digest}", "0123", "{mac}", "0123")
	for _, rt := range sregistryapi.New(nil, "").Routes() {
		for _, entity := range []bool{false, true} {
			path := fill.Replace(rt.Pattern(entity)[len(rt.Method)+1:])
			path = strings.Replace(path, "{entity}", "alice", 1)
			// The names exist nowhere: most routes answer an error, and
			// what matters is who answered.
			resp, body := do(rt.Method, path)
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNoContent {
				continue
			}
			if !sregistryAnswer(resp, body) {
				t.Errorf("%s %s: %d %q, not the sregistry router", rt.Method, path, resp.StatusCode, body)
			}
		}
	}
	for _, path := range []string{"/v1/api/container/c/n:t", "/v1/upload", "/v1/container/c/n:t", "/v2/api/collections/"} {
		resp, body := do("GET", path)
		if sregistryAnswer(resp, body) {
			t.Errorf("GET %s went to the sregistry router", path)
		}
	}
}
