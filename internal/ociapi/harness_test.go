package ociapi_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/config"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/servertest"
)

// env is the real composed server on a loopback port.
type env struct {
	t   *testing.T
	srv *servertest.Server
	// host is 127.0.0.1:port, what image references use.
	host      string
	adminPass string
	// adminToken is admin's API token. Requests made with e.do send it as
	// the Basic password unless told otherwise: a token check is a hash
	// lookup, a password check a deliberately slow argon2id.
	adminToken string
}

func newEnv(t *testing.T, tweak ...func(*config.Config)) *env {
	t.Helper()
	srv := servertest.Start(t, tweak...)
	e := &env{t: t, srv: srv, host: srv.Host}
	e.adminPass, e.adminToken = srv.User(t, "admin", meta.RoleAdmin)
	return e
}

// user creates a user and returns its password and an API token.
func (e *env) user(name string, role meta.Role) (password, token string) {
	e.t.Helper()
	return e.srv.User(e.t, name, role)
}

// req describes one raw HTTP request.
type req struct {
	method, path string
	body         []byte
	header       map[string]string
	user, pass   string // Basic credentials; "-" as user means none
	bearer       string
	chunked      bool // send the body without a length (chunked encoding)
}

// do sends r as admin unless r says otherwise, and returns the response
// with its body read.
func (e *env) do(r req) (*http.Response, []byte) {
	e.t.Helper()
	u := r.path
	if !strings.HasPrefix(u, "http") {
		u = e.srv.URL + r.path
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	if r.chunked {
		body = io.MultiReader(body) // hides the length from NewRequest
	}
	hr, err := http.NewRequest(r.method, u, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	switch {
	case r.bearer != "":
		hr.Header.Set("Authorization", "Bearer "+r.bearer)
	case r.user == "-":
	case r.user != "":
		hr.SetBasicAuth(r.user, r.pass)
	default:
		hr.SetBasicAuth("admin", e.adminToken)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

// must checks a status and returns the response for further checks.
func (e *env) must(status int, r req) (*http.Response, []byte) {
	e.t.Helper()
	resp, b := e.do(r)
	if resp.StatusCode != status {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", r.method, r.path, resp.StatusCode, status, b)
	}
	return resp, b
}

// location resolves a Location header against the server.
func (e *env) location(resp *http.Response) string {
	e.t.Helper()
	loc := resp.Header.Get("Location")
	if loc == "" {
		e.t.Fatalf("%s %s: no Location", resp.Request.Method, resp.Request.URL.Path)
	}
	u, err := resp.Request.URL.Parse(loc)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.String()
}

// withQuery appends query parameters to a location that may have some.
func withQuery(loc string, kv ...string) string {
	u, _ := url.Parse(loc)
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Add(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// pushBlob uploads b to repo with POST + PUT and returns its digest.
func (e *env) pushBlob(repo string, b []byte) digest.Digest {
	e.t.Helper()
	d := digest.FromBytes(b)
	resp, _ := e.must(202, req{method: "POST", path: "/v2/" + repo + "/blobs/uploads/"})
	e.must(201, req{method: "PUT", path: withQuery(e.location(resp), "digest", d.String()), body: b,
		header: map[string]string{"Content-Type": "application/octet-stream"}})
	return d
}

// pushManifest PUTs a manifest under ref and returns the response.
func (e *env) pushManifest(repo, ref string, m []byte, mediaType string) *http.Response {
	e.t.Helper()
	resp, _ := e.must(201, req{method: "PUT", path: "/v2/" + repo + "/manifests/" + ref, body: m,
		header: map[string]string{"Content-Type": mediaType}})
	return resp
}

// image builds an OCI image manifest over blobs already pushed to repo.
func (e *env) image(repo string, annotations map[string]string, extra map[string]any) ([]byte, digest.Digest) {
	e.t.Helper()
	cfg := randomBytes(64)
	layer := randomBytes(512)
	cd, ld := e.pushBlob(repo, cfg), e.pushBlob(repo, layer)
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(cfg)},
		"layers":        []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": len(layer)}},
	}
	if annotations != nil {
		m["annotations"] = annotations
	}
	for k, v := range extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		e.t.Fatal(err)
	}
	return b, digest.FromBytes(b)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// ociErrorCode returns the first error code of an OCI error body.
func ociErrorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) == 0 {
		t.Fatalf("not an OCI error body: %q (%v)", body, err)
	}
	return e.Errors[0].Code
}
