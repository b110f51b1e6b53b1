package ociapi_test

// The conformance suite's discovery and management behaviours (notes
// §2.1); spec_test.go has pull and push.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// Tags are overwritable: test0..test3 pushed twice with other manifests.
func TestSpecTagsOverwrite(t *testing.T) {
	e := newEnv(t)
	var last digest.Digest
	for round := 0; round < 2; round++ {
		for i := 0; i < 4; i++ {
			m, d := e.image("conformance/repo1", map[string]string{"round": fmt.Sprint(round)}, nil)
			e.pushManifest("conformance/repo1", fmt.Sprintf("test%d", i), m, ociManifest)
			last = d
		}
	}
	resp, _ := e.must(200, req{method: "HEAD", path: "/v2/conformance/repo1/manifests/test3"})
	if resp.Header.Get("Docker-Content-Digest") != last.String() {
		t.Fatal("tag not moved")
	}
	if tags := listTags(t, e, "conformance/repo1", ""); len(tags) != 4 {
		t.Fatalf("tags %v", tags)
	}
}

func listTags(t *testing.T, e *env, repo, query string) []string {
	t.Helper()
	_, body := e.must(200, req{method: "GET", path: "/v2/" + repo + "/tags/list" + query})
	var l struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(body, &l); err != nil || l.Name != repo || l.Tags == nil {
		t.Fatalf("tag list %s: %v", body, err)
	}
	return l.Tags
}

// Tag listing: byte order, n exact with a Link to the rest, last strictly
// after, n=0 empty without Link.
func TestSpecTagsPagination(t *testing.T) {
	e := newEnv(t)
	m, _ := e.image("conformance/repo1", nil, nil)
	for _, tag := range []string{"b", "A", "a", "Z", "c", "_x"} {
		e.pushManifest("conformance/repo1", tag, m, ociManifest)
	}
	if got := strings.Join(listTags(t, e, "conformance/repo1", ""), " "); got != "A Z _x a b c" {
		t.Fatalf("all tags %q", got)
	}
	resp, body := e.must(200, req{method: "GET", path: "/v2/conformance/repo1/tags/list?n=3"})
	if !strings.Contains(string(body), `"tags":["A","Z","_x"]`) {
		t.Fatalf("n=3: %s", body)
	}
	link := resp.Header.Get("Link")
	if link != `</v2/conformance/repo1/tags/list?last=_x&n=3>; rel="next"` {
		t.Fatalf("Link %q", link)
	}
	next := strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
	resp, body = e.must(200, req{method: "GET", path: next})
	if !strings.Contains(string(body), `"tags":["a","b","c"]`) || resp.Header.Get("Link") != "" {
		t.Fatalf("page 2: %s %q", body, resp.Header.Get("Link"))
	}
	if got := strings.Join(listTags(t, e, "conformance/repo1", "?last=b"), " "); got != "c" {
		t.Fatalf("last=b: %q", got)
	}
	resp, _ = e.must(200, req{method: "GET", path: "/v2/conformance/repo1/tags/list?n=0"})
	if tags := listTags(t, e, "conformance/repo1", "?n=0"); len(tags) != 0 || resp.Header.Get("Link") != "" {
		t.Fatalf("n=0: %v", tags)
	}
}

// Tag list of an unknown repository → 404 NAME_UNKNOWN.
func TestSpecTagsUnknownRepository(t *testing.T) {
	e := newEnv(t)
	_, body := e.must(404, req{method: "GET", path: "/v2/conformance/nothing/tags/list"})
	if ociErrorCode(t, body) != "NAME_UNKNOWN" {
		t.Fatalf("body %s", body)
	}
}

type index struct {
	SchemaVersion int    `json:"schemaVersion"`
	MediaType     string `json:"mediaType"`
	Manifests     []struct {
		Digest       digest.Digest     `json:"digest"`
		ArtifactType string            `json:"artifactType"`
		Annotations  map[string]string `json:"annotations"`
	} `json:"manifests"`
}

func referrers(t *testing.T, e *env, repo string, d digest.Digest, query string) (*http.Response, index) {
	t.Helper()
	resp, body := e.must(200, req{method: "GET", path: "/v2/" + repo + "/referrers/" + d.String() + query})
	var idx index
	if err := json.Unmarshal(body, &idx); err != nil || idx.SchemaVersion != 2 || idx.MediaType != "application/vnd.oci.image.index.v1+json" || idx.Manifests == nil {
		t.Fatalf("referrers body %s: %v", body, err)
	}
	if resp.Header.Get("Content-Type") != "application/vnd.oci.image.index.v1+json" {
		t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	return resp, idx
}

// Referrers, the suite's scenario: referrers pushed before their subject,
// OCI-Subject on every such PUT (an index too, and a subject never pushed),
// the artifactType fallback and filter, copied annotations.
func TestSpecReferrers(t *testing.T) {
	e := newEnv(t)
	const repo = "conformance/repo1"
	subjectManifest, subject := e.image(repo, nil, nil)
	subjDesc := map[string]any{"mediaType": ociManifest, "digest": subject, "size": len(subjectManifest)}
	push := func(extra map[string]any, i int) digest.Digest {
		m, d := e.image(repo, map[string]string{"ref": fmt.Sprint(i)}, extra)
		resp := e.pushManifest(repo, d.String(), m, ociManifest)
		if resp.Header.Get("OCI-Subject") != subject.String() {
			t.Fatalf("referrer %d: OCI-Subject %q", i, resp.Header.Get("OCI-Subject"))
		}
		return d
	}
	push(map[string]any{"subject": subjDesc, "artifactType": "application/vnd.test.a"}, 0)
	push(map[string]any{"subject": subjDesc, "artifactType": "application/vnd.test.a"}, 1)
	push(map[string]any{"subject": subjDesc, "artifactType": "application/vnd.test.b"}, 2)
	push(map[string]any{"subject": subjDesc}, 3) // artifactType falls back to config.mediaType
	// An index with a subject and artifactType.
	idx := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","artifactType":"application/vnd.test.idx","manifests":[],"subject":{"mediaType":%q,"digest":%q,"size":%d},"annotations":{"ref":"4"}}`,
		ociManifest, subject, len(subjectManifest))
	resp := e.pushManifest(repo, digest.FromString(idx).String(), []byte(idx), "application/vnd.oci.image.index.v1+json")
	if resp.Header.Get("OCI-Subject") != subject.String() {
		t.Fatalf("index OCI-Subject %q", resp.Header.Get("OCI-Subject"))
	}
	e.pushManifest(repo, "subject", subjectManifest, ociManifest)

	_, all := referrers(t, e, repo, subject, "")
	if len(all.Manifests) != 5 {
		t.Fatalf("%d referrers", len(all.Manifests))
	}
	types := map[string]int{}
	for _, m := range all.Manifests {
		types[m.ArtifactType]++
		if len(m.Annotations) != 1 || m.Annotations["ref"] == "" {
			t.Errorf("annotations %v", m.Annotations)
		}
	}
	if types["application/vnd.test.a"] != 2 || types["application/vnd.oci.image.config.v1+json"] != 1 || types["application/vnd.test.idx"] != 1 {
		t.Fatalf("artifact types %v", types)
	}
	resp, filtered := referrers(t, e, repo, subject, "?artifactType=application/vnd.test.a")
	if len(filtered.Manifests) != 2 || resp.Header.Get("OCI-Filters-Applied") != "artifactType" {
		t.Fatalf("filtered: %d, header %q", len(filtered.Manifests), resp.Header.Get("OCI-Filters-Applied"))
	}
	// Referrers of a subject never pushed.
	ghost := map[string]any{"mediaType": ociManifest, "digest": randomDigest, "size": 10}
	m, d := e.image(repo, nil, map[string]any{"subject": ghost})
	if e.pushManifest(repo, d.String(), m, ociManifest).Header.Get("OCI-Subject") != randomDigest.String() {
		t.Fatal("no OCI-Subject for a missing subject")
	}
	if _, l := referrers(t, e, repo, randomDigest, ""); len(l.Manifests) != 1 {
		t.Fatalf("ghost referrers %d", len(l.Manifests))
	}
	// A random digest: 200 and an empty list, never 404; a bad one is 400.
	if _, l := referrers(t, e, repo, digest.FromString("random"), ""); len(l.Manifests) != 0 {
		t.Fatal("random digest has referrers")
	}
	e.must(400, req{method: "GET", path: "/v2/" + repo + "/referrers/sha256:bad"})
}

// DELETE of a tag → 202; the tag count drops by exactly one.
func TestSpecDeleteTag(t *testing.T) {
	e := newEnv(t)
	m, d := e.image("conformance/repo1", nil, nil)
	for _, tag := range []string{"one", "two"} {
		e.pushManifest("conformance/repo1", tag, m, ociManifest)
	}
	e.must(202, req{method: "DELETE", path: "/v2/conformance/repo1/manifests/one"})
	if tags := listTags(t, e, "conformance/repo1", ""); len(tags) != 1 || tags[0] != "two" {
		t.Fatalf("tags %v", tags)
	}
	e.must(404, req{method: "GET", path: "/v2/conformance/repo1/manifests/one"})
	e.must(200, req{method: "GET", path: "/v2/conformance/repo1/manifests/" + d.String()})
	e.must(404, req{method: "DELETE", path: "/v2/conformance/repo1/manifests/one"})
}

// DELETE by digest → 202; GET by digest and by every tag on it → 404.
func TestSpecDeleteManifest(t *testing.T) {
	e := newEnv(t)
	m, d := e.image("conformance/repo1", nil, nil)
	e.pushManifest("conformance/repo1", "a", m, ociManifest)
	e.pushManifest("conformance/repo1", "b", m, ociManifest)
	e.must(202, req{method: "DELETE", path: "/v2/conformance/repo1/manifests/" + d.String()})
	for _, ref := range []string{d.String(), "a", "b"} {
		e.must(404, req{method: "GET", path: "/v2/conformance/repo1/manifests/" + ref})
	}
	if tags := listTags(t, e, "conformance/repo1", ""); len(tags) != 0 {
		t.Fatalf("tags left %v", tags)
	}
	e.must(404, req{method: "DELETE", path: "/v2/conformance/repo1/manifests/" + d.String()})
}

// DELETE of a blob → 202, then GET → 404 although a deleted manifest
// referenced it.
func TestSpecDeleteBlob(t *testing.T) {
	e := newEnv(t)
	b := []byte("config")
	d := e.pushBlob("conformance/repo1", b)
	e.must(202, req{method: "DELETE", path: "/v2/conformance/repo1/blobs/" + d.String()})
	e.must(404, req{method: "GET", path: "/v2/conformance/repo1/blobs/" + d.String()})
	e.must(404, req{method: "DELETE", path: "/v2/conformance/repo1/blobs/" + d.String()})
}

// DELETE of an upload session → 204; the session is then unknown.
func TestSpecCancelUpload(t *testing.T) {
	e := newEnv(t)
	resp, _ := e.must(202, req{method: "POST", path: "/v2/conformance/repo1/blobs/uploads/"})
	loc := e.location(resp)
	e.must(204, req{method: "DELETE", path: loc})
	_, body := e.must(404, req{method: "GET", path: loc})
	if ociErrorCode(t, body) != "BLOB_UPLOAD_UNKNOWN" {
		t.Fatalf("body %s", body)
	}
}

// The suite runs against /v2/ with credentials and reads the challenge
// without them (end-1).
func TestSpecBase(t *testing.T) {
	e := newEnv(t)
	resp, _ := e.must(200, req{method: "GET", path: "/v2/"})
	if resp.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Fatal("no API version header")
	}
	resp, _ = e.must(401, req{method: "GET", path: "/v2/", user: "-"})
	want := fmt.Sprintf(`Bearer realm="%s/v2/token",service="%s"`, e.srv.URL, e.host)
	if resp.Header.Get("WWW-Authenticate") != want || resp.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Fatalf("challenge %q", resp.Header.Get("WWW-Authenticate"))
	}
}
