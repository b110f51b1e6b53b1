package ociapi_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/bearer"
	"github.com/silo-hpc/silo/internal/config"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/servertest"
)

type tokenBody struct {
	Token        string `json:"token"`
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	IssuedAt     string `json:"issued_at"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
}

func decodeToken(t *testing.T, body []byte) tokenBody {
	t.Helper()
	var tb tokenBody
	if err := json.Unmarshal(body, &tb); err != nil {
		t.Fatalf("token body %s: %v", body, err)
	}
	if tb.Token == "" || tb.Token != tb.AccessToken || tb.ExpiresIn < 60 {
		t.Fatalf("token body %s", body)
	}
	if _, err := time.Parse(time.RFC3339, tb.IssuedAt); err != nil {
		t.Fatalf("issued_at %q: %v", tb.IssuedAt, err)
	}
	return tb
}

// Basic auth takes a password or an API token; bad credentials are 401
// at /v2/ so `login` commands can tell.
func TestAuthBasic(t *testing.T) {
	e := newEnv(t)
	e.must(200, req{method: "GET", path: "/v2/", user: "admin", pass: e.adminPass})
	e.must(200, req{method: "GET", path: "/v2/", user: "admin", pass: e.adminToken})
	e.must(200, req{method: "GET", path: "/v2/", bearer: e.adminToken}) // API token as Bearer
	for _, bad := range []req{
		{method: "GET", path: "/v2/", user: "admin", pass: "wrong"},
		{method: "GET", path: "/v2/", user: "nobody", pass: e.adminToken},
		{method: "GET", path: "/v2/", bearer: "not-a-token"},
		{method: "GET", path: "/v2/", bearer: "a.b.c"},
	} {
		resp, body := e.must(401, bad)
		if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer realm=") || ociErrorCode(t, body) != "UNAUTHORIZED" {
			t.Fatalf("401 without challenge or code: %v %s", resp.Header, body)
		}
	}
}

// The token endpoint, GET form: Basic credentials, 401 on bad ones even
// without a scope, Basic Og== is anonymous, refresh_token only when asked.
func TestTokenGet(t *testing.T) {
	e := newEnv(t)
	_, body := e.must(200, req{method: "GET", path: "/v2/token?service=" + e.host, user: "admin", pass: e.adminPass})
	if tb := decodeToken(t, body); tb.RefreshToken != "" {
		t.Fatal("refresh_token without offline_token")
	}
	e.must(401, req{method: "GET", path: "/v2/token?service=" + e.host, user: "admin", pass: "wrong"})
	e.must(401, req{method: "GET", path: "/v2/token?service=" + e.host + "&scope=repository:a/b:pull", user: "admin", pass: "wrong"})
	_, body = e.must(200, req{method: "GET", path: "/v2/token?scope=repository:a/b:pull", user: "-", header: map[string]string{"Authorization": "Basic Og=="}})
	if tb := decodeToken(t, body); tb.Scope != "" {
		t.Fatalf("anonymous got scope %q on a missing repository", tb.Scope)
	}
	_, body = e.must(200, req{method: "GET", path: "/v2/token?offline_token=true&client_id=x&scope=repository:admin/x:push,pull&scope=registry:catalog:*"})
	tb := decodeToken(t, body)
	if tb.RefreshToken == "" || tb.Scope != "repository:admin/x:pull,push registry:catalog:*" {
		t.Fatalf("offline token %+v", tb)
	}
	// The access token works; the refresh token is not an access token.
	e.must(200, req{method: "GET", path: "/v2/", bearer: tb.Token})
	e.must(401, req{method: "GET", path: "/v2/", bearer: tb.RefreshToken})
	// Basic credentials that do not decode are refused, not anonymous.
	_, body = e.must(401, req{method: "GET", path: "/v2/token?scope=repository:admin/x:pull", user: "-", header: map[string]string{"Authorization": "Basic !!!"}})
	if ociErrorCode(t, body) != "UNAUTHORIZED" {
		t.Fatalf("malformed Basic: %s", body)
	}
	// A token request asks for a bounded number of scopes (each is a
	// look-up and a claim).
	many := "/v2/token?"
	for i := range bearer.MaxScopes + 1 {
		many += fmt.Sprintf("scope=repository:admin/r%d:pull&", i)
	}
	e.must(400, req{method: "GET", path: many})
	e.must(200, req{method: "GET", path: strings.Replace(many, "scope=repository:admin/r0:pull&", "", 1)})
}

// The token endpoint, OAuth2 POST form: password and refresh_token grants.
func TestTokenPost(t *testing.T) {
	e := newEnv(t)
	form := func(v url.Values) req {
		return req{method: "POST", path: "/v2/token", user: "-", body: []byte(v.Encode()),
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}
	}
	_, body := e.must(200, form(url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {e.adminToken},
		"service": {e.host}, "client_id": {"test"}, "access_type": {"offline"}, "scope": {"repository:admin/x:pull registry:catalog:*"}}))
	tb := decodeToken(t, body)
	if tb.RefreshToken == "" || tb.Scope != "repository:admin/x:pull registry:catalog:*" {
		t.Fatalf("password grant %+v", tb)
	}
	_, body = e.must(200, form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tb.RefreshToken},
		"service": {e.host}, "client_id": {"test"}, "scope": {"repository:admin/y:push"}}))
	if got := decodeToken(t, body); got.Scope != "repository:admin/y:push" || got.RefreshToken != "" {
		t.Fatalf("refresh grant %+v", got)
	}
	e.must(401, form(url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"wrong"}, "service": {e.host}}))
	e.must(401, form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tb.Token}, "service": {e.host}}))
	e.must(400, form(url.Values{"grant_type": {"authorization_code"}}))
}

func token(t *testing.T, e *env, user, pass string, scopes ...string) string {
	t.Helper()
	q := url.Values{"service": {e.host}, "scope": scopes}
	r := req{method: "GET", path: "/v2/token?" + q.Encode(), user: user, pass: pass}
	if user == "" {
		r.user = "-"
	}
	_, body := e.must(200, r)
	return decodeToken(t, body).Token
}

// A token limits what its holder may do: a request outside its scope gets
// a challenge naming the scope and error="insufficient_scope".
func TestBearerScope(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "signing.key")
	if err := os.WriteFile(keyFile, []byte("0123456789abcdef0123456789abcdef-shared-by-replicas"), 0o600); err != nil {
		t.Fatal(err)
	}
	sharedKey := func(c *config.Config) { c.Auth.SigningKeyFile = keyFile }
	e := newEnv(t, sharedKey)
	d := e.pushBlob("admin/app", []byte("some blob"))
	pull := token(t, e, "admin", e.adminToken, "repository:admin/app:pull")
	e.must(200, req{method: "HEAD", path: "/v2/admin/app/blobs/" + d.String(), bearer: pull})
	resp, body := e.must(401, req{method: "POST", path: "/v2/admin/app/blobs/uploads/", bearer: pull})
	want := `,scope="repository:admin/app:pull,push",error="insufficient_scope"`
	if !strings.HasSuffix(resp.Header.Get("WWW-Authenticate"), want) || ociErrorCode(t, body) != "UNAUTHORIZED" {
		t.Fatalf("challenge %q", resp.Header.Get("WWW-Authenticate"))
	}
	resp, _ = e.must(401, req{method: "GET", path: "/v2/_catalog", bearer: pull})
	if !strings.Contains(resp.Header.Get("WWW-Authenticate"), `scope="registry:catalog:*"`) {
		t.Fatalf("catalog challenge %q", resp.Header.Get("WWW-Authenticate"))
	}
	push := token(t, e, "admin", e.adminToken, "repository:admin/app:push,pull")
	e.must(202, req{method: "POST", path: "/v2/admin/app/blobs/uploads/", bearer: push})
	// Another replica (the same database, the same signing key) accepts
	// the token; a tampered token is rejected.
	replica := &env{t: t, srv: servertest.Start(t, sharedKey, func(c *config.Config) {
		c.DataDir, c.Database = e.srv.Config.DataDir, e.srv.Config.Database
	})}
	replica.must(200, req{method: "HEAD", path: "/v2/admin/app/blobs/" + d.String(), bearer: pull})
	tampered := pull[:len(pull)-2] + map[bool]string{true: "AA", false: "BB"}[strings.HasSuffix(pull, "BB")]
	e.must(401, req{method: "HEAD", path: "/v2/admin/app/blobs/" + d.String(), bearer: tampered})
}

// Plain repositories: the first component is a namespace owned like a
// library entity (docs/oci.md).
func TestNamespaceOwnership(t *testing.T) {
	e := newEnv(t)
	_, bobTok := e.user("bob", meta.RoleUser)
	_, carolTok := e.user("carol", meta.RoleManager)
	post := func(user, tok, repo string) int {
		resp, _ := e.do(req{method: "POST", path: "/v2/" + repo + "/blobs/uploads/", user: user, pass: tok})
		return resp.StatusCode
	}
	if got := post("bob", bobTok, "bob/tools/x/y"); got != 202 {
		t.Fatalf("bob in his namespace: %d", got)
	}
	if got := post("bob", bobTok, "alice/x"); got != 403 {
		t.Fatalf("bob in alice's namespace: %d", got)
	}
	if got := post("carol", carolTok, "anything/x"); got != 202 {
		t.Fatalf("manager: %d", got)
	}
	if got := post("bob", bobTok, "anything/x"); got != 403 {
		t.Fatalf("bob in a manager's repository: %d", got)
	}
	resp, _ := e.do(req{method: "POST", path: "/v2/bob/x/blobs/uploads/", user: "-"})
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `scope="repository:bob/x:pull,push"`) {
		t.Fatalf("anonymous push: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	// The token endpoint grants what the same rules allow.
	tb := token(t, e, "bob", bobTok, "repository:alice/x:push,pull", "repository:bob/z:push,pull")
	e.must(202, req{method: "POST", path: "/v2/bob/z/blobs/uploads/", bearer: tb})
	// The rules refuse before the token is looked at: a token cannot help.
	e.must(403, req{method: "POST", path: "/v2/alice/x/blobs/uploads/", bearer: tb})
}

// Public repositories pull anonymously; private ones are NAME_UNKNOWN to
// others in pulls, tag lists and the catalog, and challenge anonymous
// callers.
func TestPrivacy(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Library.DefaultPrivate = true })
	_, bobTok := e.user("bob", meta.RoleUser)
	_, eveTok := e.user("eve", meta.RoleUser)
	m, d := e.image("bob/secret", nil, nil)
	e.do(req{method: "PUT", path: "/v2/bob/secret/manifests/v1", body: m, header: map[string]string{"Content-Type": ociManifest}})
	e.must(200, req{method: "GET", path: "/v2/bob/secret/manifests/v1", user: "bob", pass: bobTok})
	for _, path := range []string{"/v2/bob/secret/manifests/v1", "/v2/bob/secret/manifests/" + d.String(), "/v2/bob/secret/tags/list"} {
		_, body := e.must(404, req{method: "GET", path: path, user: "eve", pass: eveTok})
		if ociErrorCode(t, body) != "NAME_UNKNOWN" {
			t.Fatalf("%s: %s", path, body)
		}
		e.must(401, req{method: "GET", path: path, user: "-"})
	}
	// A push by eve does not reveal it either: the refusal of a push
	// into a namespace that is not hers.
	_, body := e.must(403, req{method: "POST", path: "/v2/bob/secret/blobs/uploads/", user: "eve", pass: eveTok})
	_, missing := e.must(403, req{method: "POST", path: "/v2/bob/nothere/blobs/uploads/", user: "eve", pass: eveTok})
	if ociErrorCode(t, body) != "DENIED" || string(missing) != strings.ReplaceAll(string(body), "secret", "nothere") {
		t.Fatalf("push by eve: %s, to a missing repository: %s", body, missing)
	}
	catalog := func(user, pass string) string {
		_, body := e.must(200, req{method: "GET", path: "/v2/_catalog", user: user, pass: pass})
		return string(body)
	}
	if got := catalog("eve", eveTok); strings.Contains(got, "bob/secret") {
		t.Fatalf("eve's catalog %s", got)
	}
	if got := catalog("bob", bobTok); !strings.Contains(got, "bob/secret") {
		t.Fatalf("bob's catalog %s", got)
	}
	// A token for eve carries no pull on it.
	if tb := token(t, e, "eve", eveTok, "repository:bob/secret:pull"); tb == "" {
		t.Fatal("no token")
	}
}

// Anonymous pulls of a public repository need no credentials at all.
func TestAnonymousPull(t *testing.T) {
	e := newEnv(t)
	m, d := e.image("admin/public", nil, nil)
	e.pushManifest("admin/public", "v1", m, ociManifest)
	_, body := e.must(200, req{method: "GET", path: "/v2/admin/public/manifests/v1", user: "-"})
	if string(body) != string(m) {
		t.Fatal("manifest differs")
	}
	e.must(200, req{method: "GET", path: "/v2/admin/public/tags/list", user: "-"})
	e.must(200, req{method: "GET", path: "/v2/admin/public/manifests/" + d.String(), user: "-", header: map[string]string{"Authorization": "Basic Og=="}})
	e.must(401, req{method: "DELETE", path: "/v2/admin/public/manifests/v1", user: "-"})
	anon := token(t, e, "", "", "repository:admin/public:pull,push")
	e.must(200, req{method: "GET", path: "/v2/admin/public/manifests/v1", bearer: anon})
}

// The catalog paginates like tags, in byte order.
func TestCatalogPagination(t *testing.T) {
	e := newEnv(t)
	for _, r := range []string{"b/x", "a/y", "a/x", "c"} {
		e.pushBlob(r, []byte(r))
	}
	resp, body := e.must(200, req{method: "GET", path: "/v2/_catalog?n=2"})
	if string(body) != `{"repositories":["a/x","a/y"]}`+"\n" || resp.Header.Get("Link") != `</v2/_catalog?last=a%2Fy&n=2>; rel="next"` {
		t.Fatalf("page 1: %s %q", body, resp.Header.Get("Link"))
	}
	resp, body = e.must(200, req{method: "GET", path: "/v2/_catalog?n=2&last=a/y"})
	if string(body) != `{"repositories":["b/x","c"]}`+"\n" || resp.Header.Get("Link") != "" {
		t.Fatalf("page 2: %s %q", body, resp.Header.Get("Link"))
	}
}
