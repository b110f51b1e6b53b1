package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/libraryapi"
	"github.com/silo-hpc/silo/internal/ociapi"
	"github.com/silo-hpc/silo/internal/servertest"
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
	names := []string{"imagefile", "imagefile/0123456789abcdef01234567", "tags", "v1", "x/upload"}
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
