package libraryapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/config"
)

// TestServiceEndpoints covers discovery, /version, token-status,
// rbac/users/current and unknown paths.
func TestServiceEndpoints(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.PublicURL = "https://lib.example.org/silo/" })
	ctx := context.Background()

	st, b := e.do("GET", "/assets/config/config.prod.json", "", nil)
	var doc map[string]map[string]any
	if err := json.Unmarshal(b, &doc); st != 200 || err != nil {
		t.Fatalf("discovery: %d %s", st, b)
	}
	for _, k := range []string{"libraryAPI", "keystoreAPI", "tokenAPI"} {
		if doc[k]["uri"] != "https://lib.example.org/silo" {
			t.Errorf("%s: %v", k, doc[k])
		}
	}
	var v struct{ APIVersion string }
	if st, b := e.doJSON("GET", "/version", "", nil, &v); st != 200 || v.APIVersion != "2.0.0-alpha.2" {
		t.Fatalf("version: %d %s", st, b)
	}

	revoked, tok, err := e.srv.Auth.IssueToken(ctx, "alice", "revoked", 0)
	must(t, err)
	must(t, e.srv.Auth.RevokeToken(ctx, tok.ID))
	expired, _, err := e.srv.Auth.IssueToken(ctx, "alice", "expired", time.Nanosecond)
	must(t, err)
	for name, tc := range map[string]struct {
		token  string
		status int
	}{"good": {e.tokens["alice"], 200}, "bad": {"nope", 401}, "revoked": {revoked, 401}, "expired": {expired, 401}, "none": {"", 401}} {
		if st, b := e.do("GET", "/v1/token-status", tc.token, nil); st != tc.status {
			t.Errorf("token-status %s: %d %s", name, st, b)
		}
	}

	st, b = e.do("GET", "/v1/rbac/users/current", e.tokens["alice"], nil)
	var u map[string]any
	json.Unmarshal(b, &u)
	if st != 200 || u["username"] != "alice" || u["realname"] != "" || u["oidc_user_meta"] == nil || u["data"] != nil {
		t.Fatalf("users/current: %d %s", st, b)
	}
	st, b = e.do("GET", "/v1/rbac/users/current", "", nil)
	wantError(t, st, b, 401)

	for _, path := range []string{"/v1/no-such-thing", "/v1/entities/alice/extra"} {
		st, b := e.do("GET", path, "", nil)
		wantError(t, st, b, 404)
	}
	if st, _ := e.do("GET", "/v2/no-such-thing/really", "", nil); st != 404 {
		t.Errorf("unknown /v2 path: %d", st)
	}
}

// TestWireDetails checks JSON types (string ids, RFC 3339 or null times),
// bodies without Content-Type, Range downloads, short refs, the
// arch=amd64 query-key quirk, and the v1 upload and tag APIs.
func TestWireDetails(t *testing.T) {
	e := newEnv(t)
	tok := e.tokens["alice"]
	st, b := e.do("GET", "/v1/entities/alice", tok, nil)
	var raw map[string]map[string]any
	must(t, json.Unmarshal(b, &raw))
	ent := raw["data"]
	if _, ok := ent["id"].(string); st != 200 || !ok || ent["deletedAt"] != nil {
		t.Fatalf("entity: %d %s", st, b)
	}
	if _, err := time.Parse(time.RFC3339, ent["createdAt"].(string)); err != nil {
		t.Fatalf("createdAt: %v", err)
	}

	// Seed 003's curl API, with a JSON Content-Type this time.
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/collections", strings.NewReader(`{"entity":"`+ent["id"].(string)+`","name":"dinosaurs"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), `"entityName":"alice"`) {
		t.Fatalf("curl create collection: %d %s", res.StatusCode, b)
	}

	// v1 raw upload (L12) and v1 tags (L21/L22), as pre-2.0 clients use.
	data := readFile(t, makeSIF(t, "arm64", 100000, 7))
	cid, img := e.rawImage("dinosaurs", "rex", hashOf(data))
	if st, b := e.do("POST", "/v1/imagefile/"+img, tok, bytes.NewReader(data)); st != 200 {
		t.Fatalf("v1 upload: %d %s", st, b)
	}
	if st, b := e.doJSON("POST", "/v1/tags/"+cid, tok, map[string]string{"Tag": "latest", "ImageID": img}, nil); st != 200 {
		t.Fatalf("v1 tag: %d %s", st, b)
	}
	var tags map[string]string
	if e.doJSON("GET", "/v1/tags/"+cid, tok, nil, &tags); tags["latest"] != img {
		t.Fatalf("v1 tags %v", tags)
	}
	var arch map[string]map[string]string
	if e.doJSON("GET", "/v2/tags/"+cid, tok, nil, &arch); arch["arm64"]["latest"] != img {
		t.Fatalf("v2 tags %v (arch from the SIF header)", arch)
	}
	// v2 tag with a conflicting arch is refused.
	st, b = e.doJSON("POST", "/v2/tags/"+cid, tok, map[string]string{"Arch": "amd64", "Tag": "x", "ImageID": img}, nil)
	wantError(t, st, b, 400)

	// Range and Content-Length on downloads; the quirky arch key.
	for _, path := range []string{"/v1/imagefile/alice/dinosaurs/rex:latest?arch=arm64", "/v1/imagefile/alice/dinosaurs/rex:latest?arch%3Darm64"} {
		req, _ = http.NewRequest("GET", e.srv.URL+path, nil)
		req.Header.Set("Range", "bytes=100-199")
		res, err = http.DefaultClient.Do(req)
		must(t, err)
		b, _ = io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 206 || !bytes.Equal(b, data[100:200]) {
			t.Fatalf("%s range: %d, %d bytes", path, res.StatusCode, len(b))
		}
	}
	res, err = http.Get(e.srv.URL + "/v1/imagefile/alice/dinosaurs/rex:latest?arch=arm64")
	must(t, err)
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.ContentLength != int64(len(data)) || !bytes.Equal(b, data) {
		t.Fatalf("download: %d, length %d", res.StatusCode, res.ContentLength)
	}

	// Short refs name the default entity and collection.
	root := e.client("root")
	path := makeSIF(t, "amd64", 1000, 8)
	root.mustPush(t, path, "default/default/alpine", "amd64", "latest")
	root.mustPush(t, path, "default/tools/alpine", "amd64", "latest")
	for _, ref := range []string{"alpine", "tools/alpine", "default/default/alpine"} {
		img, err := e.client("").GetImage(context.Background(), "amd64", ref+":latest")
		if err != nil || img.Hash != fileHash(t, path) {
			t.Fatalf("short ref %s: %v", ref, err)
		}
	}
}
