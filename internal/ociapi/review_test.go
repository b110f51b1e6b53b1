package ociapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/config"
	"github.com/silo-hpc/silo/internal/meta"
)

// The token endpoint's POST form is read with a small limit: a client may
// not make the server buffer megabytes of form data.
func TestTokenPostBodyLimited(t *testing.T) {
	e := newEnv(t)
	v := url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {e.adminToken},
		"service": {e.host}, "client_id": {strings.Repeat("x", 2<<20)}}
	resp, _ := e.do(req{method: "POST", path: "/v2/token", user: "-", body: []byte(v.Encode()),
		header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("2 MiB token form: %d, want 413", resp.StatusCode)
	}
}

// A delete with a bearer token for another repository answers the same
// for a private repository of someone else as for a missing one, so the
// token holder cannot probe which private repositories exist.
func TestDeleteWithTokenDoesNotRevealPrivateRepository(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Library.DefaultPrivate = true })
	e.user("bob", meta.RoleUser)
	_, eveTok := e.user("eve", meta.RoleUser)
	m, _ := e.image("bob/secret", nil, nil)
	e.pushManifest("bob/secret", "v1", m, ociManifest)
	tok := token(t, e, "eve", eveTok, "repository:eve/x:push,pull,delete")
	for _, path := range []string{"/v2/bob/secret/manifests/v1", "/v2/bob/secret/blobs/" + randomDigest.String()} {
		existing, _ := e.do(req{method: "DELETE", path: path, bearer: tok})
		missing, _ := e.do(req{method: "DELETE", path: strings.Replace(path, "bob/secret", "bob/nothere", 1), bearer: tok})
		if existing.StatusCode != missing.StatusCode {
			t.Fatalf("DELETE %s: %d for a private repository, %d for a missing one", path, existing.StatusCode, missing.StatusCode)
		}
	}
}

// A PATCH cut short by the client keeps what reached the session, and the
// status endpoint reports it, so the client resumes at the right offset
// instead of appending after bytes the session silently holds.
func TestTruncatedPatchKeepsOffset(t *testing.T) {
	e := newEnv(t)
	blob := randomBytes(4096)
	resp, _ := e.must(202, req{method: "POST", path: "/v2/admin/trunc/blobs/uploads/"})
	loc := e.location(resp)
	u, _ := url.Parse(loc)
	conn, err := net.Dial("tcp", e.host)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n",
		u.RequestURI(), e.host, basic("admin", e.adminToken), len(blob))
	if _, err := conn.Write(blob[:1000]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	conn.Close()
	// The server notices the cut and saves the session; wait for it.
	var rng string
	for i := 0; i < 50; i++ {
		resp, _ = e.do(req{method: "GET", path: loc})
		if resp.StatusCode == 204 {
			if rng = resp.Header.Get("Range"); rng == "0-999" {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rng != "0-999" {
		t.Fatalf("status after a cut PATCH: Range %q, want 0-999", rng)
	}
	e.must(202, req{method: "PATCH", path: loc, body: blob[1000:], header: map[string]string{"Content-Range": fmt.Sprintf("1000-%d", len(blob)-1)}})
	d := digest.FromBytes(blob)
	e.must(201, req{method: "PUT", path: withQuery(loc, "digest", d.String())})
	_, got := e.must(200, req{method: "GET", path: "/v2/admin/trunc/blobs/" + d.String()})
	if string(got) != string(blob) {
		t.Fatal("resumed blob differs")
	}
}

func basic(user, pass string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pass)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

// A SIF artifact pushed over OCI whose manifest misstates its layer's
// size is MANIFEST_INVALID (it is not a name problem), and nothing of it
// becomes visible.
func TestSIFPushWrongLayerSize(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("alice", meta.RoleUser)
	_, sifBytes := makeSIF(t, "amd64", 5000)
	repo := "alice/apps/app"
	as := asUser("alice", tok)
	m := rawSIFArtifact(e, as, repo, sifBytes, len(sifBytes)+12345)
	_, body := e.must(400, as(req{method: "PUT", path: "/v2/" + repo + "/manifests/v1", body: []byte(m), header: map[string]string{"Content-Type": ociManifest}}))
	if code := ociErrorCode(t, body); code != "MANIFEST_INVALID" {
		t.Fatalf("code %s: %s", code, body)
	}
	e.must(404, as(req{method: "GET", path: "/v2/" + repo + "/manifests/v1"}))
	if _, err := scsClient(t, e.srv.URL, tok).GetImage(context.Background(), "amd64", repo+":v1"); err == nil {
		t.Fatal("library image from a rejected manifest")
	}
}

// A frozen container keeps its tags over OCI too: deleting a tag (or the
// manifest a tag names) would let the tag be pushed again at other
// content, which checkFrozen refuses only for a tag that still exists.
func TestFrozenContainerTagsSurviveOCIDelete(t *testing.T) {
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
	for _, ref := range []string{"v1", md} {
		_, body := e.must(403, as(req{method: "DELETE", path: "/v2/" + repo + "/manifests/" + ref}))
		if ociErrorCode(t, body) != "DENIED" {
			t.Fatalf("DELETE %s: %s", ref, body)
		}
	}
	resp, _ = e.must(200, as(req{method: "HEAD", path: "/v2/" + repo + "/manifests/v1"}))
	if resp.Header.Get("Docker-Content-Digest") != md {
		t.Fatal("frozen tag moved")
	}
}

// An index of SIF manifests whose platform contradicts the SIF header is
// the manifest's fault: MANIFEST_INVALID, not NAME_INVALID.
func TestSIFIndexWrongArchIsManifestInvalid(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("alice", meta.RoleUser)
	_, sifBytes := makeSIF(t, "amd64", 3000)
	repo := "alice/apps/app"
	as := asUser("alice", tok)
	m := rawSIFArtifact(e, as, repo, sifBytes, len(sifBytes))
	md := digest.FromString(m)
	e.must(201, as(req{method: "PUT", path: "/v2/" + repo + "/manifests/" + md.String(), body: []byte(m), header: map[string]string{"Content-Type": ociManifest}}))
	idx := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`+
		`{"mediaType":%q,"digest":%q,"size":%d,"platform":{"architecture":"arm64","os":"linux"}}]}`, ociManifest, md, len(m))
	_, body := e.must(400, as(req{method: "PUT", path: "/v2/" + repo + "/manifests/latest", body: []byte(idx),
		header: map[string]string{"Content-Type": "application/vnd.oci.image.index.v1+json"}}))
	if code := ociErrorCode(t, body); code != "MANIFEST_INVALID" {
		t.Fatalf("code %s: %s", code, body)
	}
	e.must(404, as(req{method: "GET", path: "/v2/" + repo + "/manifests/latest"}))
}

// asUser returns a request modifier sending user's Basic credentials.
func asUser(user, pass string) func(req) req {
	return func(r req) req { r.user, r.pass = user, pass; return r }
}

// rawSIFArtifact uploads the {} config and sif to repo and returns a SIF
// artifact manifest naming them, its layer size given as layerSize.
func rawSIFArtifact(e *env, as func(req) req, repo string, sif []byte, layerSize int) string {
	push := func(b []byte) digest.Digest {
		d := digest.FromBytes(b)
		e.must(201, as(req{method: "POST", path: "/v2/" + repo + "/blobs/uploads/?digest=" + d.String(), body: b}))
		return d
	}
	cd, ld := push([]byte("{}")), push(sif)
	return fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.sylabs.sif.config.v1+json","digest":%q,"size":2},`+
		`"layers":[{"mediaType":"application/vnd.sylabs.sif.layer.v1.sif","digest":%q,"size":%d}]}`, ociManifest, cd, ld, layerSize)
}
