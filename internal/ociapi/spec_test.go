package ociapi_test

// One test per behaviour the OCI conformance suite asserts (notes §2.1,
// v1.1.1, plus the stricter main-branch checks of §2.2), written from the
// spec because the suite is not reachable through the module proxy.

import (
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

const ociManifest = "application/vnd.oci.image.manifest.v1+json"

var randomDigest = digest.FromString("never pushed")

// Pull: HEAD/GET of an unknown blob or manifest digest → 404.
func TestSpecPullUnknownDigest(t *testing.T) {
	e := newEnv(t)
	e.pushBlob("conformance/repo1", []byte("x"))
	for _, kind := range []string{"blobs", "manifests"} {
		for _, m := range []string{"HEAD", "GET"} {
			resp, body := e.do(req{method: m, path: "/v2/conformance/repo1/" + kind + "/" + randomDigest.String()})
			if resp.StatusCode != 404 {
				t.Errorf("%s %s: %d", m, kind, resp.StatusCode)
			}
			if m == "GET" {
				want := map[string]string{"blobs": "BLOB_UNKNOWN", "manifests": "MANIFEST_UNKNOWN"}[kind]
				if got := ociErrorCode(t, body); got != want {
					t.Errorf("GET %s code %s, want %s", kind, got, want)
				}
			}
		}
	}
}

// Pull: GET/HEAD manifests/.INVALID_MANIFEST_NAME → 404, not 400.
func TestSpecPullInvalidReference404(t *testing.T) {
	e := newEnv(t)
	e.pushBlob("conformance/repo1", []byte("x"))
	for _, m := range []string{"HEAD", "GET"} {
		e.must(404, req{method: m, path: "/v2/conformance/repo1/manifests/.INVALID_MANIFEST_NAME"})
	}
}

// Pull: manifests/sha256:totallywrong → 400 with an OCI error body (or
// 404), never 500.
func TestSpecPullMalformedDigest(t *testing.T) {
	e := newEnv(t)
	e.pushBlob("conformance/repo1", []byte("x"))
	for _, kind := range []string{"manifests", "blobs"} {
		resp, body := e.must(400, req{method: "GET", path: "/v2/conformance/repo1/" + kind + "/sha256:totallywrong"})
		if got := ociErrorCode(t, body); got != "DIGEST_INVALID" {
			t.Errorf("%s: code %s (%d)", kind, got, resp.StatusCode)
		}
	}
}

// Pull: Docker-Content-Digest on HEAD and GET equals the digest, and
// Content-Type/Length are exact.
func TestSpecPullHeaders(t *testing.T) {
	e := newEnv(t)
	m, d := e.image("conformance/repo1", nil, nil)
	e.pushManifest("conformance/repo1", "tagged", m, ociManifest)
	for _, ref := range []string{"tagged", d.String()} {
		for _, method := range []string{"HEAD", "GET"} {
			resp, body := e.must(200, req{method: method, path: "/v2/conformance/repo1/manifests/" + ref})
			h := resp.Header
			if h.Get("Docker-Content-Digest") != d.String() || h.Get("Content-Type") != ociManifest ||
				h.Get("Content-Length") != fmt.Sprint(len(m)) {
				t.Errorf("%s %s: headers %v", method, ref, h)
			}
			if method == "GET" && string(body) != string(m) {
				t.Errorf("GET %s: body differs", ref)
			}
		}
	}
	blob := []byte("blob content")
	bd := e.pushBlob("conformance/repo1", blob)
	resp, body := e.must(200, req{method: "GET", path: "/v2/conformance/repo1/blobs/" + bd.String()})
	if resp.Header.Get("Docker-Content-Digest") != bd.String() || string(body) != string(blob) {
		t.Fatalf("blob GET: %v %q", resp.Header, body)
	}
	resp, _ = e.must(200, req{method: "HEAD", path: "/v2/conformance/repo1/blobs/" + bd.String()})
	if resp.Header.Get("Content-Length") != fmt.Sprint(len(blob)) || resp.Header.Get("Docker-Content-Digest") != bd.String() {
		t.Fatalf("blob HEAD: %v", resp.Header)
	}
}

// Push, streamed: POST → Location; PATCH without Content-Range → 202; PUT
// ?digest= with an empty body → 201 + Location.
func TestSpecPushStreamed(t *testing.T) {
	e := newEnv(t)
	b := randomBytes(3000)
	resp, _ := e.must(202, req{method: "POST", path: "/v2/conformance/repo1/blobs/uploads/"})
	resp, _ = e.must(202, req{method: "PATCH", path: e.location(resp), body: b,
		header: map[string]string{"Content-Type": "application/octet-stream"}})
	if resp.Header.Get("Range") != "0-2999" {
		t.Errorf("Range %q", resp.Header.Get("Range"))
	}
	d := digest.FromBytes(b)
	resp, _ = e.must(201, req{method: "PUT", path: withQuery(e.location(resp), "digest", d.String())})
	if resp.Header.Get("Location") != "/v2/conformance/repo1/blobs/"+d.String() {
		t.Errorf("Location %q", resp.Header.Get("Location"))
	}
	e.must(200, req{method: "GET", path: "/v2/conformance/repo1/blobs/" + d.String()})
}

// Push, monolithic single POST with ?digest= → 201 + Location, and the
// blob is then there.
func TestSpecPushSinglePost(t *testing.T) {
	e := newEnv(t)
	b := randomBytes(100)
	d := digest.FromBytes(b)
	resp, _ := e.must(201, req{method: "POST", path: "/v2/conformance/repo1/blobs/uploads/?digest=" + d.String(), body: b,
		header: map[string]string{"Content-Type": "application/octet-stream"}})
	if resp.Header.Get("Location") == "" {
		t.Fatal("no Location")
	}
	e.must(200, req{method: "HEAD", path: "/v2/conformance/repo1/blobs/" + d.String()})
	// A body that does not match is DIGEST_INVALID and stores nothing.
	_, body := e.must(400, req{method: "POST", path: "/v2/conformance/repo1/blobs/uploads/?digest=" + randomDigest.String(), body: b})
	if ociErrorCode(t, body) != "DIGEST_INVALID" {
		t.Fatalf("body %s", body)
	}
	e.must(404, req{method: "HEAD", path: "/v2/conformance/repo1/blobs/" + randomDigest.String()})
}

// Push: a plain POST is 202 with a Location.
func TestSpecPushPostIs202(t *testing.T) {
	e := newEnv(t)
	resp, _ := e.must(202, req{method: "POST", path: "/v2/conformance/repo1/blobs/uploads/"})
	if !strings.HasPrefix(resp.Header.Get("Location"), "/v2/conformance/repo1/blobs/uploads/") {
		t.Fatalf("Location %q", resp.Header.Get("Location"))
	}
}

// Push, chunked: the suite's exact sequence with a 42-byte blob in 22+20.
func TestSpecPushChunked(t *testing.T) {
	e := newEnv(t)
	blob := randomBytes(42)
	c1, c2 := blob[:22], blob[22:]
	chunk := func(b []byte, start int) map[string]string {
		return map[string]string{"Content-Type": "application/octet-stream",
			"Content-Range": fmt.Sprintf("%d-%d", start, start+len(b)-1), "Content-Length": fmt.Sprint(len(b))}
	}
	// A new session whose first PATCH is the second chunk → 416.
	resp, _ := e.must(202, req{method: "POST", path: "/v2/conformance/repo1/blobs/uploads/"})
	e.must(416, req{method: "PATCH", path: e.location(resp), body: c2, header: chunk(c2, 22)})

	resp, _ = e.must(202, req{method: "POST", path: "/v2/conformance/repo1/blobs/uploads/"})
	postLoc := e.location(resp)
	resp, _ = e.must(202, req{method: "PATCH", path: postLoc, body: c1, header: chunk(c1, 0)})
	if resp.Header.Get("Range") != "0-21" {
		t.Fatalf("Range %q", resp.Header.Get("Range"))
	}
	// Chunk 1 again, to the POST's Location → 416.
	e.must(416, req{method: "PATCH", path: postLoc, body: c1, header: chunk(c1, 0)})
	resp, _ = e.must(204, req{method: "GET", path: postLoc})
	if resp.Header.Get("Range") != "0-21" || resp.Header.Get("Location") == "" {
		t.Fatalf("status headers %v", resp.Header)
	}
	resp, _ = e.must(202, req{method: "PATCH", path: e.location(resp), body: c2, header: chunk(c2, 22)})
	d := digest.FromBytes(blob)
	e.must(201, req{method: "PUT", path: withQuery(e.location(resp), "digest", d.String()), header: map[string]string{"Content-Length": "0"}})
	_, got := e.must(200, req{method: "GET", path: "/v2/conformance/repo1/blobs/" + d.String()})
	if string(got) != string(blob) {
		t.Fatal("chunked blob differs")
	}
}

// Push, chunked (main-branch suite): an out-of-order final PUT is 416 and
// the session survives it; the last chunk may come in the PUT.
func TestSpecPushChunkedPut(t *testing.T) {
	e := newEnv(t)
	blob := randomBytes(2048)
	d := digest.FromBytes(blob)
	resp, _ := e.must(202, req{method: "POST", path: "/v2/conformance/repo1/blobs/uploads/"})
	loc := e.location(resp)
	e.must(202, req{method: "PATCH", path: loc, body: blob[:1024], header: map[string]string{"Content-Range": "0-1023"}})
	e.must(416, req{method: "PUT", path: withQuery(loc, "digest", d.String()), body: blob[1024:], header: map[string]string{"Content-Range": "1030-2053"}})
	resp, _ = e.must(204, req{method: "GET", path: loc})
	if !strings.HasPrefix(resp.Header.Get("Range"), "0-") {
		t.Fatalf("Range %q", resp.Header.Get("Range"))
	}
	e.must(201, req{method: "PUT", path: withQuery(loc, "digest", d.String()), body: blob[1024:], header: map[string]string{"Content-Range": "1024-2047"}})
	e.must(200, req{method: "HEAD", path: "/v2/conformance/repo1/blobs/" + d.String()})
}

// Push: a PUT whose digest does not match the content is DIGEST_INVALID.
func TestSpecPushDigestMismatch(t *testing.T) {
	e := newEnv(t)
	resp, _ := e.must(202, req{method: "POST", path: "/v2/conformance/repo1/blobs/uploads/"})
	_, body := e.must(400, req{method: "PUT", path: withQuery(e.location(resp), "digest", randomDigest.String()), body: []byte("abc")})
	if ociErrorCode(t, body) != "DIGEST_INVALID" {
		t.Fatalf("body %s", body)
	}
	e.must(404, req{method: "HEAD", path: "/v2/conformance/repo1/blobs/" + randomDigest.String()})
}

// Cross-mount without from → 202 with an upload Location.
func TestSpecMountWithoutFrom(t *testing.T) {
	e := newEnv(t)
	d := e.pushBlob("conformance/repo1", []byte("mount me"))
	resp, _ := e.must(202, req{method: "POST", path: "/v2/conformance/repo2/blobs/uploads/?mount=" + d.String()})
	if !strings.HasPrefix(resp.Header.Get("Location"), "/v2/conformance/repo2/blobs/uploads/") {
		t.Fatalf("Location %q", resp.Header.Get("Location"))
	}
}

// Cross-mount with from → 201 and the exact blob Location; the blob is
// then served by the target repository.
func TestSpecMountFrom(t *testing.T) {
	e := newEnv(t)
	d := e.pushBlob("conformance/repo1", []byte("mount me"))
	resp, _ := e.must(201, req{method: "POST", path: "/v2/conformance/repo2/blobs/uploads/?mount=" + d.String() + "&from=conformance/repo1"})
	if got := resp.Header.Get("Location"); got != "/v2/conformance/repo2/blobs/"+d.String() {
		t.Fatalf("Location %q", got)
	}
	e.must(200, req{method: "GET", path: "/v2/conformance/repo2/blobs/" + d.String()})
	// An unknown blob falls back to an upload session.
	resp, _ = e.must(202, req{method: "POST", path: "/v2/conformance/repo2/blobs/uploads/?mount=" + randomDigest.String() + "&from=conformance/repo1"})
	if !strings.HasPrefix(resp.Header.Get("Location"), "/v2/conformance/repo2/blobs/uploads/") {
		t.Fatalf("Location %q", resp.Header.Get("Location"))
	}
}

// Manifest PUT → 201 with a Location that serves the manifest.
func TestSpecManifestPut(t *testing.T) {
	e := newEnv(t)
	m, d := e.image("conformance/repo1", nil, nil)
	resp := e.pushManifest("conformance/repo1", "v1", m, ociManifest)
	if resp.Header.Get("Docker-Content-Digest") != d.String() {
		t.Fatalf("digest %q", resp.Header.Get("Docker-Content-Digest"))
	}
	_, body := e.must(200, req{method: "GET", path: e.location(resp)})
	if string(body) != string(m) {
		t.Fatal("Location serves other bytes")
	}
	// By digest, too; a digest that does not match the body is 400.
	e.pushManifest("conformance/repo1", d.String(), m, ociManifest)
	_, body = e.must(400, req{method: "PUT", path: "/v2/conformance/repo1/manifests/" + randomDigest.String(), body: m,
		header: map[string]string{"Content-Type": ociManifest}})
	if ociErrorCode(t, body) != "DIGEST_INVALID" {
		t.Fatalf("body %s", body)
	}
}

// Manifests with fields unknown to the spec (data, newUnspecifiedField) are
// accepted and stored byte-exact.
func TestSpecManifestUnknownFields(t *testing.T) {
	e := newEnv(t)
	cfg := []byte("{}")
	cd := e.pushBlob("conformance/repo1", cfg)
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":2,"data":"e30=","newUnspecifiedField":null},"layers":[],"newUnspecifiedField":{"x":1}}`, ociManifest, cd)
	e.pushManifest("conformance/repo1", "odd", []byte(m), ociManifest)
	_, body := e.must(200, req{method: "GET", path: "/v2/conformance/repo1/manifests/odd"})
	if string(body) != m {
		t.Fatal("not byte-exact")
	}
}

// A manifest without mediaType and with empty layers is accepted; GET
// answers with the Content-Type it was pushed with.
func TestSpecManifestNoMediaType(t *testing.T) {
	e := newEnv(t)
	cd := e.pushBlob("conformance/repo1", []byte("{}"))
	m := fmt.Sprintf(`{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":2},"layers":[]}`, cd)
	e.pushManifest("conformance/repo1", "bare", []byte(m), ociManifest)
	resp, _ := e.must(200, req{method: "HEAD", path: "/v2/conformance/repo1/manifests/bare"})
	if resp.Header.Get("Content-Type") != ociManifest {
		t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
}

// Manifests up to 4 MiB are accepted (the suite pushes ~3.9 MB); above is
// 413.
func TestSpecManifestSizeLimit(t *testing.T) {
	e := newEnv(t)
	ann := map[string]string{}
	for i := 0; i < 390; i++ {
		ann[fmt.Sprintf("key%03d", i)] = strings.Repeat("v", 10000)
	}
	m, _ := e.image("conformance/repo1", ann, nil)
	e.pushManifest("conformance/repo1", "large", m, ociManifest)
	huge := append([]byte(`{"schemaVersion":2,"x":"`), append([]byte(strings.Repeat("a", 4<<20)), '"', '}')...)
	_, body := e.must(413, req{method: "PUT", path: "/v2/conformance/repo1/manifests/huge", body: huge,
		header: map[string]string{"Content-Type": ociManifest}})
	ociErrorCode(t, body)
}

// sha512 blobs (main-branch suite): pushed with a sha512 digest, echoed in
// Docker-Content-Digest; digest-algorithm=sha512 sessions work too.
func TestSpecSHA512(t *testing.T) {
	e := newEnv(t)
	b := randomBytes(1500)
	sum := sha512.Sum512(b)
	d := digest.NewDigestFromEncoded(digest.SHA512, hex.EncodeToString(sum[:]))
	e.must(201, req{method: "POST", path: "/v2/conformance/repo1/blobs/uploads/?digest=" + d.String(), body: b})
	resp, body := e.must(200, req{method: "GET", path: "/v2/conformance/repo1/blobs/" + d.String()})
	if resp.Header.Get("Docker-Content-Digest") != d.String() || string(body) != string(b) {
		t.Fatalf("sha512 blob: %v", resp.Header)
	}
	resp, _ = e.must(202, req{method: "POST", path: "/v2/conformance/repo1/blobs/uploads/?digest-algorithm=sha512"})
	b2 := randomBytes(99)
	sum = sha512.Sum512(b2)
	d2 := digest.NewDigestFromEncoded(digest.SHA512, hex.EncodeToString(sum[:]))
	resp, _ = e.must(202, req{method: "PATCH", path: e.location(resp), body: b2})
	e.must(201, req{method: "PUT", path: withQuery(e.location(resp), "digest", d2.String())})
	e.must(400, req{method: "POST", path: "/v2/conformance/repo1/blobs/uploads/?digest-algorithm=md5"})
}

// Zero-byte blobs and the two-byte {} blob work (main-branch suite).
func TestSpecEmptyBlobs(t *testing.T) {
	e := newEnv(t)
	for _, b := range [][]byte{{}, []byte("{}")} {
		d := e.pushBlob("conformance/repo1", b)
		resp, body := e.must(200, req{method: "GET", path: "/v2/conformance/repo1/blobs/" + d.String()})
		if string(body) != string(b) || resp.Header.Get("Content-Length") != fmt.Sprint(len(b)) {
			t.Fatalf("blob %q: %q %v", b, body, resp.Header)
		}
	}
}

// Range requests on blobs (main-branch suite): 206 with Content-Range,
// 416 when unsatisfiable.
func TestSpecBlobRanges(t *testing.T) {
	e := newEnv(t)
	b := randomBytes(4000)
	d := e.pushBlob("conformance/repo1", b)
	path := "/v2/conformance/repo1/blobs/" + d.String()
	for _, tc := range []struct {
		rng, contentRange string
		from, to          int
	}{
		{"bytes=500-1499", "bytes 500-1499/4000", 500, 1500},
		{"bytes=500-", "bytes 500-3999/4000", 500, 4000},
		{"bytes=-500", "bytes 3500-3999/4000", 3500, 4000},
		{"bytes=2000-5000", "bytes 2000-3999/4000", 2000, 4000},
	} {
		resp, body := e.must(206, req{method: "GET", path: path, header: map[string]string{"Range": tc.rng}})
		if resp.Header.Get("Content-Range") != tc.contentRange || string(body) != string(b[tc.from:tc.to]) {
			t.Errorf("%s: Content-Range %q, %d bytes", tc.rng, resp.Header.Get("Content-Range"), len(body))
		}
	}
	for _, rng := range []string{"bytes=500-0", "bytes=5000-10000"} {
		e.must(416, req{method: "GET", path: path, header: map[string]string{"Range": rng}})
	}
}
