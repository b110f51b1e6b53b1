package ociapi_test

// Regression tests for the defects a hostile-client review found (one test
// per defect class; each failed before its fix).

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/ociapi"
)

// answer is what a client can observe of a refusal.
type answer struct {
	status               int
	code, msg, challenge string
}

func (e *env) answer(r req) answer {
	e.t.Helper()
	resp, body := e.do(r)
	a := answer{status: resp.StatusCode, challenge: resp.Header.Get("WWW-Authenticate")}
	var eb struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	if json.Unmarshal(body, &eb) == nil && len(eb.Errors) > 0 {
		a.code, a.msg = eb.Errors[0].Code, eb.Errors[0].Message
	}
	return a
}

// privateAndMissing sets up, for bob, one private thing and one missing
// thing of each kind: a library container in alice's private collection
// and one in a collection that does not exist, and a private plain
// repository of alice's and one that does not exist. It returns the pairs
// and bob's token.
func privateAndMissing(t *testing.T, e *env) (pairs [][2]string, bobTok string) {
	t.Helper()
	_, aliceTok := e.user("alice", meta.RoleUser)
	_, bobTok = e.user("bob", meta.RoleUser)
	as := asUser("alice", aliceTok)
	_, sifBytes := makeSIF(t, "amd64", 2000)
	m := rawSIFArtifact(e, as, "alice/priv/app", sifBytes, len(sifBytes))
	e.must(201, as(req{method: "PUT", path: "/v2/alice/priv/app/manifests/v1", body: []byte(m), header: map[string]string{"Content-Type": ociManifest}}))
	_, body := e.must(200, req{method: "GET", path: "/v1/collections/alice/priv", bearer: aliceTok})
	var col struct{ Data struct{ ID string } }
	if err := json.Unmarshal(body, &col); err != nil || col.Data.ID == "" {
		t.Fatalf("collection %s: %v", body, err)
	}
	putJSON(t, e, "/v1/collections/"+col.Data.ID, aliceTok, `{"private":true}`)
	img, _ := e.image("alice/secret", nil, nil)
	e.must(201, as(req{method: "PUT", path: "/v2/alice/secret/manifests/v1", body: img, header: map[string]string{"Content-Type": ociManifest}}))
	e.setPrivate("alice/secret")
	return [][2]string{{"alice/priv/app", "alice/nope/app"}, {"alice/secret", "alice/nothere"}}, bobTok
}

// setPrivate makes a plain repository private (there is no API for it yet).
func (e *env) setPrivate(name string) {
	e.t.Helper()
	repo, err := e.srv.Meta.GetRepository(e.t.Context(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	repo.Private = true
	if err := e.srv.Meta.UpdateRepository(e.t.Context(), &repo); err != nil {
		e.t.Fatal(err)
	}
}

// writeParams says, for every write route of the OCI router, how to fill
// its <param>; a query a route needs is part of it. A write route added
// to the router without an entry here fails the test below.
var writeParams = map[string][]string{
	"POST /v2/<name>/blobs/uploads/": {"", "?digest=" + randomDigest.String(),
		"?mount=" + randomDigest.String() + "&from=alice/secret"},
	"PATCH /v2/<name>/blobs/uploads/<param>":  {"0123456789abcdef0123456789abcdef"},
	"PUT /v2/<name>/blobs/uploads/<param>":    {"0123456789abcdef0123456789abcdef?digest=" + randomDigest.String()},
	"GET /v2/<name>/blobs/uploads/<param>":    {"0123456789abcdef0123456789abcdef"},
	"DELETE /v2/<name>/blobs/uploads/<param>": {"0123456789abcdef0123456789abcdef"},
	"DELETE /v2/<name>/blobs/<param>":         {randomDigest.String()},
	"PUT /v2/<name>/manifests/<param>":        {"v2", randomDigest.String()},
	"DELETE /v2/<name>/manifests/<param>":     {"v1", randomDigest.String()},
}

// Defect 1 (and 2 for the challenges): every write path answers a private
// repository exactly as a missing one, to another user and to an
// anonymous caller: status, code, message and challenge. The requests are
// generated from the router's own route table.
func TestWritePathsPrivateLooksMissing(t *testing.T) {
	e := newEnv(t)
	pairs, bobTok := privateAndMissing(t, e)
	for _, rt := range ociapi.New(nil, nil, "").Routes() {
		if !rt.Write() {
			continue
		}
		params, ok := writeParams[rt.Method+" "+rt.Pattern]
		if !ok {
			t.Errorf("write route %s %s has no entry in writeParams", rt.Method, rt.Pattern)
			continue
		}
		for _, param := range params {
			for _, pair := range pairs {
				for _, who := range []struct{ user, pass string }{{"bob", bobTok}, {"-", ""}} {
					mk := func(name string) req {
						path := strings.NewReplacer("<name>", name, "<param>", param).Replace(rt.Pattern)
						if !strings.Contains(rt.Pattern, "<param>") {
							path += param
						}
						return req{method: rt.Method, path: path, user: who.user, pass: who.pass,
							body: []byte(`{"schemaVersion":2}`), header: map[string]string{"Content-Type": ociManifest}}
					}
					priv, missing := e.answer(mk(pair[0])), e.answer(mk(pair[1]))
					// The names differ where the answer names what was asked
					// for (a challenge's scope, a message); nothing else may.
					missing.challenge = strings.ReplaceAll(missing.challenge, pair[1], pair[0])
					missing.msg = strings.ReplaceAll(missing.msg, pair[1], pair[0])
					if priv != missing || priv.status < 400 {
						t.Errorf("%s %s (%s) as %s: private %+v, missing %+v", rt.Method, rt.Pattern, param, who.user, priv, missing)
					}
				}
			}
		}
	}
}

// Defect 2: an unauthenticated DELETE is challenged for the delete action,
// and a client that asks the token service for exactly the challenged
// scope gets a token that lets the retry through.
func TestDeleteChallengeNamesDelete(t *testing.T) {
	e := newEnv(t)
	m, d := e.image("admin/app", nil, nil)
	e.pushManifest("admin/app", "v1", m, ociManifest)
	blob := e.pushBlob("admin/app", []byte("loose blob"))
	for _, path := range []string{"/v2/admin/app/manifests/v1", "/v2/admin/app/manifests/" + d.String(), "/v2/admin/app/blobs/" + blob.String()} {
		resp, _ := e.must(401, req{method: "DELETE", path: path, user: "-"})
		ch := resp.Header.Get("WWW-Authenticate")
		i := strings.Index(ch, `scope="`)
		if i < 0 {
			t.Fatalf("DELETE %s: challenge %q has no scope", path, ch)
		}
		scope := strings.TrimSuffix(ch[i+len(`scope="`):], `"`)
		if !strings.Contains(scope, "delete") {
			t.Fatalf("DELETE %s: challenge scope %q lacks delete", path, scope)
		}
		tok := token(t, e, "admin", e.adminToken, scope)
		e.must(202, req{method: "DELETE", path: path, bearer: tok})
	}
}

// Defect 3: revoking the API token a client logged in with ends its
// refresh token and its access tokens at once.
func TestRevokedAPITokenEndsRegistryTokens(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("alice", meta.RoleUser)
	e.pushBlob("alice/app", []byte("x"))
	q := url.Values{"service": {e.host}, "scope": {"repository:alice/app:pull"}, "offline_token": {"true"}}
	_, body := e.must(200, req{method: "GET", path: "/v2/token?" + q.Encode(), user: "alice", pass: tok})
	tb := decodeToken(t, body)
	e.must(200, req{method: "GET", path: "/v2/alice/app/tags/list", bearer: tb.Token})
	toks, err := e.srv.Auth.ListTokens(e.t.Context(), "alice")
	if err != nil || len(toks) != 1 {
		t.Fatalf("tokens %v %v", toks, err)
	}
	if err := e.srv.Auth.RevokeToken(e.t.Context(), toks[0].ID); err != nil {
		t.Fatal(err)
	}
	e.must(401, req{method: "GET", path: "/v2/alice/app/tags/list", bearer: tb.Token})
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tb.RefreshToken}, "service": {e.host}}
	e.must(401, req{method: "POST", path: "/v2/token", user: "-", body: []byte(refresh.Encode()),
		header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
}

// Defect 3, further: a disabled account's registry tokens stop at once.
func TestDisabledUserEndsRegistryTokens(t *testing.T) {
	e := newEnv(t)
	pass, _ := e.user("alice", meta.RoleUser)
	e.pushBlob("alice/app", []byte("x"))
	tok := token(t, e, "alice", pass, "repository:alice/app:pull")
	e.must(200, req{method: "GET", path: "/v2/alice/app/tags/list", bearer: tok})
	if err := e.srv.Auth.SetDisabled(e.t.Context(), "alice", true); err != nil {
		t.Fatal(err)
	}
	e.must(401, req{method: "GET", path: "/v2/alice/app/tags/list", bearer: tok})
}

// exists reports whether the catalog lists name (admin sees everything).
func (e *env) exists(name string) bool {
	e.t.Helper()
	_, body := e.must(200, req{method: "GET", path: "/v2/_catalog"})
	var c struct{ Repositories []string }
	if err := json.Unmarshal(body, &c); err != nil {
		e.t.Fatal(err)
	}
	for _, r := range c.Repositories {
		if r == name {
			return true
		}
	}
	return false
}

// Defect 4: a request that fails creates nothing, and nothing is created
// before the first byte is accepted.
func TestRefusedRequestsCreateNothing(t *testing.T) {
	e := newEnv(t)
	_, bobTok := e.user("bob", meta.RoleUser)
	as := asUser("bob", bobTok)
	for _, name := range []string{"bob/plain", "bob/newcol/app"} {
		e.must(400, as(req{method: "POST", path: "/v2/" + name + "/blobs/uploads/?digest=sha256:bad", body: []byte("x")}))
		e.must(404, as(req{method: "PATCH", path: "/v2/" + name + "/blobs/uploads/0123456789abcdef0123456789abcdef", body: []byte("x")}))
		e.must(400, as(req{method: "PUT", path: "/v2/" + name + "/manifests/v1", body: []byte("null"), header: map[string]string{"Content-Type": ociManifest}}))
		resp, _ := e.must(202, as(req{method: "POST", path: "/v2/" + name + "/blobs/uploads/"}))
		if e.exists(name) {
			t.Fatalf("%s exists before any byte arrived", name)
		}
		e.must(201, as(req{method: "PUT", path: withQuery(e.location(resp), "digest", digest.FromString("x").String()), body: []byte("x")}))
		if !e.exists(name) {
			t.Fatalf("%s missing after a blob was pushed", name)
		}
	}
	e.must(404, req{method: "GET", path: "/v1/collections/bob/nevercreated", bearer: bobTok})
	e.must(400, as(req{method: "POST", path: "/v2/bob/nevercreated/app/blobs/uploads/?digest=sha256:bad", body: []byte("x")}))
	e.must(404, req{method: "GET", path: "/v1/collections/bob/nevercreated", bearer: bobTok})
}

// Defect 5: a chunk longer than its Content-Range is 416.
func TestChunkLongerThanRange(t *testing.T) {
	e := newEnv(t)
	resp, _ := e.must(202, req{method: "POST", path: "/v2/admin/r/blobs/uploads/"})
	loc := e.location(resp)
	e.must(416, req{method: "PATCH", path: loc, body: randomBytes(20),
		header: map[string]string{"Content-Range": "0-9", "Content-Type": "application/octet-stream"}})
	resp, _ = e.must(204, req{method: "GET", path: loc})
	if resp.Header.Get("Range") != "0-0" {
		t.Fatalf("session holds %q after a refused chunk", resp.Header.Get("Range"))
	}
	// A range whose length overflows is no range.
	e.must(416, req{method: "PATCH", path: loc, body: randomBytes(20), chunked: true,
		header: map[string]string{"Content-Range": "0-9223372036854775807", "Content-Type": "application/octet-stream"}})
	resp, _ = e.must(204, req{method: "GET", path: loc})
	if resp.Header.Get("Range") != "0-0" {
		t.Fatalf("session holds %q after a refused chunk", resp.Header.Get("Range"))
	}
	// Without a Content-Length the range's end is still the chunk's end:
	// the bytes it announced are kept (as a short body's are) and the rest
	// refused, so the status says where to resume.
	first := randomBytes(20)
	e.must(416, req{method: "PATCH", path: loc, body: first, chunked: true,
		header: map[string]string{"Content-Range": "0-9", "Content-Type": "application/octet-stream"}})
	resp, _ = e.must(204, req{method: "GET", path: loc})
	if resp.Header.Get("Range") != "0-9" {
		t.Fatalf("session holds %q after a chunk longer than its range", resp.Header.Get("Range"))
	}
	rest := randomBytes(5)
	resp, _ = e.must(202, req{method: "PATCH", path: loc, body: rest, chunked: true,
		header: map[string]string{"Content-Range": "10-14", "Content-Type": "application/octet-stream"}})
	blob := append(first[:10:10], rest...)
	e.must(201, req{method: "PUT", path: withQuery(e.location(resp), "digest", digest.FromBytes(blob).String())})
}

// Defect 5: manifests that are not manifests, or that name blobs never
// pushed, are refused.
func TestManifestValidation(t *testing.T) {
	e := newEnv(t)
	for _, body := range []string{"null", "{}", "[]", `{"schemaVersion":2}`, `{"schemaVersion":1,"layers":[]}`} {
		_, b := e.must(400, req{method: "PUT", path: "/v2/admin/m/manifests/v1", body: []byte(body), header: map[string]string{"Content-Type": ociManifest}})
		if ociErrorCode(t, b) != "MANIFEST_INVALID" {
			t.Errorf("%s: %s", body, b)
		}
	}
	cfg := e.pushBlob("admin/m", []byte("{}"))
	for _, layer := range []digest.Digest{randomDigest, e.pushBlob("admin/other", []byte("elsewhere"))} {
		m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":2},`+
			`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":9}]}`, ociManifest, cfg, layer)
		_, b := e.must(400, req{method: "PUT", path: "/v2/admin/m/manifests/v1", body: []byte(m), header: map[string]string{"Content-Type": ociManifest}})
		if ociErrorCode(t, b) != "MANIFEST_BLOB_UNKNOWN" {
			t.Errorf("layer %s: %s", layer, b)
		}
	}
	idx := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":%q,"digest":%q,"size":10}]}`, ociManifest, randomDigest)
	_, b := e.must(400, req{method: "PUT", path: "/v2/admin/m/manifests/v2", body: []byte(idx), header: map[string]string{"Content-Type": "application/vnd.oci.image.index.v1+json"}})
	if ociErrorCode(t, b) != "MANIFEST_BLOB_UNKNOWN" {
		t.Errorf("index of a missing manifest: %s", b)
	}
}

// A manifest is stored and served as its own type: a Content-Type naming
// another manifest type (or the other kind) is MANIFEST_INVALID and
// stores nothing; an index pushed with neither mediaType nor Content-Type
// is served as an index.
func TestManifestContentType(t *testing.T) {
	e := newEnv(t)
	cfg := e.pushBlob("admin/ct", []byte("{}"))
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":2},"layers":[]}`, ociManifest, cfg)
	for _, ct := range []string{"application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.v2+json"} {
		_, b := e.must(400, req{method: "PUT", path: "/v2/admin/ct/manifests/wrong", body: []byte(m), header: map[string]string{"Content-Type": ct}})
		if ociErrorCode(t, b) != "MANIFEST_INVALID" {
			t.Errorf("%s: %s", ct, b)
		}
	}
	e.must(404, req{method: "GET", path: "/v2/admin/ct/manifests/" + digest.FromString(m).String()})
	e.must(404, req{method: "GET", path: "/v2/admin/ct/manifests/wrong"})
	resp, _ := e.must(201, req{method: "PUT", path: "/v2/admin/ct/manifests/right", body: []byte(m), header: map[string]string{"Content-Type": "application/json"}})
	resp, _ = e.must(200, req{method: "GET", path: "/v2/admin/ct/manifests/right", header: map[string]string{"Accept": ociManifest}})
	if got := resp.Header.Get("Content-Type"); got != ociManifest {
		t.Fatalf("served as %q", got)
	}
	idx := fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":%q,"digest":%q,"size":%d}]}`, ociManifest, digest.FromString(m), len(m))
	e.must(201, req{method: "PUT", path: "/v2/admin/ct/manifests/idx", body: []byte(idx)})
	resp, _ = e.must(200, req{method: "GET", path: "/v2/admin/ct/manifests/idx"})
	if got := resp.Header.Get("Content-Type"); got != "application/vnd.oci.image.index.v1+json" {
		t.Fatalf("index served as %q", got)
	}
}

// Defect 5: an expired upload session is gone.
func TestExpiredUploadSession(t *testing.T) {
	e := newEnv(t)
	resp, _ := e.must(202, req{method: "POST", path: "/v2/admin/x/blobs/uploads/"})
	loc := e.location(resp)
	u, _ := url.Parse(loc)
	id := u.Path[strings.LastIndex(u.Path, "/")+1:]
	up, err := e.srv.Meta.GetUpload(e.t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	up.ExpiresAt = up.CreatedAt.Add(-1)
	if err := e.srv.Meta.UpdateUpload(e.t.Context(), &up); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"PATCH", "GET", "PUT"} {
		_, b := e.must(404, req{method: m, path: withQuery(loc, "digest", digest.FromString("").String())})
		if ociErrorCode(t, b) != "BLOB_UPLOAD_UNKNOWN" {
			t.Fatalf("%s: %s", m, b)
		}
	}
}

// Defect 5: a zero-length suffix range is unsatisfiable.
func TestZeroSuffixRange(t *testing.T) {
	e := newEnv(t)
	d := e.pushBlob("admin/r", randomBytes(100))
	resp, _ := e.must(416, req{method: "GET", path: "/v2/admin/r/blobs/" + d.String(), header: map[string]string{"Range": "bytes=-0"}})
	if got := resp.Header.Get("Content-Range"); got != "bytes */100" {
		t.Fatalf("Content-Range %q", got)
	}
}

// Defect 6: frozen means frozen over OCI too: the blobs of a frozen
// container stay, and a tag cannot gain an architecture.
func TestFrozenEverywhere(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("alice", meta.RoleUser)
	_, sifBytes := makeSIF(t, "amd64", 3000)
	repo := "alice/apps/app"
	as := asUser("alice", tok)
	m := rawSIFArtifact(e, as, repo, sifBytes, len(sifBytes))
	resp, _ := e.must(201, as(req{method: "PUT", path: "/v2/" + repo + "/manifests/v1", body: []byte(m), header: map[string]string{"Content-Type": ociManifest}}))
	md := resp.Header.Get("Docker-Content-Digest")
	_, body := e.must(200, req{method: "GET", path: "/v1/containers/" + repo, bearer: tok})
	var con struct{ Data struct{ ID string } }
	if err := json.Unmarshal(body, &con); err != nil || con.Data.ID == "" {
		t.Fatalf("container %s: %v", body, err)
	}
	putJSON(t, e, "/v1/containers/"+con.Data.ID, tok, `{"frozen":true}`)
	_, b := e.must(403, as(req{method: "DELETE", path: "/v2/" + repo + "/blobs/" + digest.FromBytes(sifBytes).String()}))
	if ociErrorCode(t, b) != "DENIED" {
		t.Fatalf("blob delete: %s", b)
	}
	e.must(200, as(req{method: "GET", path: "/v2/" + repo + "/blobs/" + digest.FromBytes(sifBytes).String()}))
	// Another architecture under the frozen tag, through the Library API.
	_, arm := makeSIF(t, "arm64", 3000)
	m2 := rawSIFArtifact(e, as, repo, arm, len(arm))
	resp, _ = e.must(201, as(req{method: "PUT", path: "/v2/" + repo + "/manifests/" + digest.FromString(m2).String(), body: []byte(m2), header: map[string]string{"Content-Type": ociManifest}}))
	_, body = e.must(200, req{method: "GET", path: "/v1/images/" + repo + ":sha256." + digest.FromBytes(arm).Encoded() + "?arch=arm64", bearer: tok})
	var img struct{ Data struct{ ID string } }
	if err := json.Unmarshal(body, &img); err != nil || img.Data.ID == "" {
		t.Fatalf("image %s: %v", body, err)
	}
	r, b := e.do(req{method: "POST", path: "/v2/tags/" + con.Data.ID, bearer: tok,
		body: []byte(`{"tag":"v1","imageID":"` + img.Data.ID + `","arch":"arm64"}`), header: map[string]string{"Content-Type": "application/json"}})
	if r.StatusCode != 403 {
		t.Fatalf("new arch under a frozen tag: %d %s", r.StatusCode, b)
	}
	resp, _ = e.must(200, as(req{method: "HEAD", path: "/v2/" + repo + "/manifests/v1"}))
	if resp.Header.Get("Docker-Content-Digest") != md {
		t.Fatal("frozen OCI tag moved")
	}
}

// Defect 7: an OCI repository may be named like a Library API path.
func TestRepositoryNamedImagefile(t *testing.T) {
	e := newEnv(t)
	for _, repo := range []string{"imagefile", "imagefile/x", "tags", "v1"} {
		m, _ := e.image(repo, nil, nil)
		e.pushManifest(repo, "_complete", m, ociManifest)
		e.pushManifest(repo, "latest", m, ociManifest)
		e.must(200, req{method: "GET", path: "/v2/" + repo + "/manifests/_complete"})
		e.must(200, req{method: "GET", path: "/v2/" + repo + "/tags/list"})
	}
}

// Defect 8: a blob mounts from a repository the caller may read, with a
// bearer token too; from one it may not read, the answer is the upload
// session a missing source gives.
func TestCrossRepositoryMount(t *testing.T) {
	e := newEnv(t)
	_, aliceTok := e.user("alice", meta.RoleUser)
	_, bobTok := e.user("bob", meta.RoleUser)
	as := asUser("alice", aliceTok)
	_, sifBytes := makeSIF(t, "amd64", 2000)
	m := rawSIFArtifact(e, as, "alice/tools/app", sifBytes, len(sifBytes))
	e.must(201, as(req{method: "PUT", path: "/v2/alice/tools/app/manifests/v1", body: []byte(m), header: map[string]string{"Content-Type": ociManifest}}))
	d := digest.FromBytes(sifBytes).String()
	// Basic credentials, from a library container.
	e.must(201, req{method: "POST", path: "/v2/bob/copy/blobs/uploads/?mount=" + d + "&from=alice/tools/app", user: "bob", pass: bobTok})
	e.must(200, req{method: "GET", path: "/v2/bob/copy/blobs/" + d, user: "bob", pass: bobTok})
	// A bearer token with pull on from and push on the target.
	tok := token(t, e, "bob", bobTok, "repository:bob/copy2:pull,push", "repository:alice/tools/app:pull")
	e.must(201, req{method: "POST", path: "/v2/bob/copy2/blobs/uploads/?mount=" + d + "&from=alice/tools/app", bearer: tok})
	// Private from: same as a missing from.
	blob := e.pushBlob("alice/secret", []byte("secret blob"))
	e.setPrivate("alice/secret")
	priv := e.answer(req{method: "POST", path: "/v2/bob/copy/blobs/uploads/?mount=" + blob.String() + "&from=alice/secret", user: "bob", pass: bobTok})
	missing := e.answer(req{method: "POST", path: "/v2/bob/copy/blobs/uploads/?mount=" + blob.String() + "&from=alice/nothere", user: "bob", pass: bobTok})
	if priv.status != 202 || missing.status != 202 {
		t.Fatalf("private from %+v, missing from %+v", priv, missing)
	}
}
