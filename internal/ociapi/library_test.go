package ociapi_test

// One store: the OCI repository entity/collection/container is the library
// container. Library pushes appear as SIF artifacts; SIF artifacts pushed
// over OCI appear in the library; bytes are identical both ways.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sylabs/scs-library-client/client"
	"github.com/sylabs/sif/v2/pkg/sif"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"

	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
)

// makeSIF writes a real SIF of about size bytes whose primary partition
// is for arch, and returns its path and bytes.
func makeSIF(t *testing.T, arch string, size int) (string, []byte) {
	t.Helper()
	di, err := sif.NewDescriptorInput(sif.DataPartition, bytes.NewReader(randomBytes(size)),
		sif.OptPartitionMetadata(sif.FsSquash, sif.PartPrimSys, arch))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "image.sif")
	f, err := sif.CreateContainerAtPath(path, sif.OptCreateWithDescriptors(di))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.UnloadContainer(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b
}

// front serves the real server and records request lines. hideRedirect
// answers /v1/oci-redirect with 404, as a server without OCI would, so the
// client takes the Library API path.
type front struct {
	ts  *httptest.Server
	mu  sync.Mutex
	log []string
}

func (e *env) front(hideRedirect bool) *front {
	f := &front{}
	h := e.srv.Handler()
	f.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.log = append(f.log, r.Method+" "+r.URL.Path)
		f.mu.Unlock()
		if hideRedirect && r.URL.Path == "/v1/oci-redirect" {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	}))
	e.t.Cleanup(f.ts.Close)
	return f
}

func (f *front) sent(prefix string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.log {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func scsClient(t *testing.T, base, token string) *client.Client {
	t.Helper()
	c, err := client.NewClient(&client.Config{BaseURL: base, AuthToken: token})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func scsPush(t *testing.T, c *client.Client, path, ref, arch string, tags ...string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := c.UploadImage(context.Background(), f, ref, arch, tags, "test image", nil); err != nil {
		t.Fatalf("library push %s: %v", ref, err)
	}
}

func scsPull(t *testing.T, c *client.Client, ref, tag, arch string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := c.DownloadImage(context.Background(), &buf, arch, ref, tag, nil); err != nil {
		t.Fatalf("library pull %s:%s: %v", ref, tag, err)
	}
	return buf.Bytes()
}

// orasPull pulls repo:ref with oras-go and returns the manifest and the
// bytes of its single layer.
func orasPull(t *testing.T, e *env, repo, ref, user, pass string) (ocispec.Manifest, []byte) {
	t.Helper()
	ctx := context.Background()
	dst := memory.New()
	desc, err := oras.Copy(ctx, e.orasRepo(repo, user, pass), ref, dst, ref, oras.DefaultCopyOptions)
	if err != nil {
		t.Fatalf("oras pull %s:%s: %v", repo, ref, err)
	}
	mb, err := content.FetchAll(ctx, dst, desc)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(mb, &m); err != nil || len(m.Layers) != 1 {
		t.Fatalf("manifest %s: %v", mb, err)
	}
	layer, err := content.FetchAll(ctx, dst, m.Layers[0])
	if err != nil {
		t.Fatal(err)
	}
	return m, layer
}

// A library push (Library API path) is pulled with oras byte-identical,
// as the SIF artifact Singularity's `push oras://` would have written.
func TestLibraryPushORASPull(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("alice", meta.RoleUser)
	f := e.front(true)
	path, sifBytes := makeSIF(t, "amd64", 300_000)
	scsPush(t, scsClient(t, f.ts.URL, tok), path, "alice/tools/python", "amd64", "latest", "v1")
	if !f.sent("POST /v2/imagefile/") || f.sent("PATCH /v2/") {
		t.Fatalf("push did not use the Library API: %v", f.log)
	}
	m, layer := orasPull(t, e, "alice/tools/python", "latest", "", "")
	if !bytes.Equal(layer, sifBytes) {
		t.Fatal("oras pull of a library push differs")
	}
	d := digest.FromBytes(sifBytes)
	want := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.sylabs.sif.config.v1+json","digest":"` +
		oci.EmptyJSONDigest.String() + `","size":2},"layers":[{"mediaType":"application/vnd.sylabs.sif.layer.v1.sif","digest":"` + d.String() +
		`","size":` + fmt.Sprint(len(sifBytes)) + `,"annotations":{"org.opencontainers.image.title":"python_` + d.Encoded()[:12] + `.sif"}}]}`
	_, body := e.must(200, req{method: "GET", path: "/v2/alice/tools/python/manifests/v1", user: "-"})
	if string(body) != want || m.Layers[0].Annotations[oci.AnnotationTitle] != "python_"+d.Encoded()[:12]+".sif" {
		t.Fatalf("manifest %s", body)
	}
	_, cfg := e.must(200, req{method: "GET", path: "/v2/alice/tools/python/blobs/" + oci.EmptyJSONDigest.String(), user: "-"})
	if string(cfg) != "{}" {
		t.Fatalf("config blob %q", cfg)
	}
	if tags := listTags(t, e, "alice/tools/python", ""); strings.Join(tags, ",") != "latest,v1" {
		t.Fatalf("OCI tags %v", tags)
	}
}

// A SIF pushed with oras-go to entity/collection/container becomes a
// library image with its tag, pulled by the library client byte-identical.
func TestORASPushLibraryPull(t *testing.T) {
	e := newEnv(t)
	pass, tok := e.user("alice", meta.RoleUser)
	_, sifBytes := makeSIF(t, "arm64", 200_000)
	ctx := context.Background()
	src := memory.New()
	mdesc, _ := sifArtifact(t, src, sifBytes, "app.sif")
	if err := src.Tag(ctx, mdesc, "v2"); err != nil {
		t.Fatal(err)
	}
	if _, err := oras.Copy(ctx, src, "v2", e.orasRepo("alice/apps/app", "alice", pass), "v2", oras.DefaultCopyOptions); err != nil {
		t.Fatal(err)
	}
	c := scsClient(t, e.srv.URL, tok)
	if got := scsPull(t, c, "alice/apps/app", "v2", "arm64"); !bytes.Equal(got, sifBytes) {
		t.Fatal("library pull of an oras push differs")
	}
	img, err := c.GetImage(ctx, "arm64", "alice/apps/app:v2")
	if err != nil || img.Hash != "sha256."+digest.FromBytes(sifBytes).Encoded() {
		t.Fatalf("library image %+v %v", img, err)
	}
	// The library records the pushed manifest, and the OCI tag still
	// names it.
	resp, _ := e.must(200, req{method: "HEAD", path: "/v2/alice/apps/app/manifests/v2"})
	if resp.Header.Get("Docker-Content-Digest") != mdesc.Digest.String() {
		t.Fatalf("OCI tag moved to %s", resp.Header.Get("Docker-Content-Digest"))
	}
	// The concurrent downloader (what Singularity uses) probes the
	// redirect for a pull, is sent to the Library API, and gets the bytes.
	out := filepath.Join(t.TempDir(), "pulled.sif")
	fo, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer fo.Close()
	if err := c.ConcurrentDownloadImage(ctx, fo, "arm64", "alice/apps/app", "v2", &client.Downloader{Concurrency: 2, PartSize: 64 << 10}, &client.NoopProgressBar{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, sifBytes) {
		t.Fatal("concurrent library pull differs")
	}
}

// With /v1/oci-redirect live, scs-library-client pushes over OCI (chunked
// PATCHes, an index per tag); the library then has the image and tags, and
// both protocols return the same bytes.
func TestLibraryPushViaOCIRedirect(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("alice", meta.RoleUser)
	f := e.front(false)
	path, sifBytes := makeSIF(t, "amd64", 6<<20) // two 5 MiB chunks
	c := scsClient(t, f.ts.URL, tok)
	scsPush(t, c, path, "alice/tools/big", "amd64", "latest")
	if !f.sent("GET /v1/oci-redirect") || !f.sent("PATCH /v2/alice/tools/big/blobs/uploads/") || f.sent("POST /v2/imagefile/") {
		t.Fatalf("push did not go over OCI: %v", f.log)
	}
	if got := scsPull(t, c, "alice/tools/big", "latest", "amd64"); !bytes.Equal(got, sifBytes) {
		t.Fatal("library pull differs")
	}
	if _, layer := orasPull(t, e, "alice/tools/big", "latest", "", ""); !bytes.Equal(layer, sifBytes) {
		t.Fatal("oras pull differs")
	}
	img, err := c.GetImage(context.Background(), "amd64", "alice/tools/big:latest")
	if err != nil || img.Architecture == nil || *img.Architecture != "amd64" {
		t.Fatalf("library image %+v %v", img, err)
	}
	// The redirect answers with the mapped name and this server's URL, and
	// refuses pull-only probes and anonymous callers (they use the
	// Library API).
	_, body := e.must(200, req{method: "GET", path: "/v1/oci-redirect?accessTypes=pull%2Cpush&mapped=1&namespace=tools%2Fx", bearer: e.adminToken})
	var rd struct{ Token, URL, Name string }
	if err := json.Unmarshal(body, &rd); err != nil || rd.Name != "default/tools/x" || rd.URL != e.srv.URL+"/" || rd.Token == "" {
		t.Fatalf("redirect %s", body)
	}
	e.must(404, req{method: "GET", path: "/v1/oci-redirect?accessTypes=pull&mapped=1&namespace=alice%2Ftools%2Fbig", bearer: tok})
	e.must(404, req{method: "GET", path: "/v1/oci-redirect?accessTypes=pull%2Cpush&mapped=1&namespace=tools%2Fx", bearer: tok}) // not alice's
	e.must(404, req{method: "GET", path: "/v1/oci-redirect?accessTypes=pull%2Cpush&namespace=alice%2Ftools%2Fbig", user: "-"})
}

// Library tags are per architecture: one tag on two architectures is an
// image index with a platform per architecture.
func TestLibraryMultiArchTag(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("alice", meta.RoleUser)
	f := e.front(true)
	c := scsClient(t, f.ts.URL, tok)
	amd, amdBytes := makeSIF(t, "amd64", 10_000)
	arm, _ := makeSIF(t, "arm64", 10_000)
	scsPush(t, c, amd, "alice/multi/app", "amd64", "latest")
	scsPush(t, c, arm, "alice/multi/app", "arm64", "latest")
	resp, body := e.must(200, req{method: "GET", path: "/v2/alice/multi/app/manifests/latest", user: "-"})
	if resp.Header.Get("Content-Type") != oci.MediaTypeImageIndex {
		t.Fatalf("latest is %s: %s", resp.Header.Get("Content-Type"), body)
	}
	var idx oci.Manifest
	if err := json.Unmarshal(body, &idx); err != nil || len(idx.Manifests) != 2 ||
		idx.Manifests[0].Platform.Architecture != "amd64" || idx.Manifests[1].Platform.Architecture != "arm64" {
		t.Fatalf("index %s", body)
	}
	_, layer := orasPull(t, e, "alice/multi/app", idx.Manifests[0].Digest.String(), "", "")
	if !bytes.Equal(layer, amdBytes) {
		t.Fatal("amd64 entry differs")
	}
}

// Library rules hold over OCI: only the owner pushes into a collection,
// and a private collection is NAME_UNKNOWN to others.
func TestLibraryRulesOverOCI(t *testing.T) {
	e := newEnv(t)
	alicePass, aliceTok := e.user("alice", meta.RoleUser)
	_, bobTok := e.user("bob", meta.RoleUser)
	ctx := context.Background()
	src := memory.New()
	_, sifBytes := makeSIF(t, "amd64", 1000)
	mdesc, _ := sifArtifact(t, src, sifBytes, "x.sif")
	_ = src.Tag(ctx, mdesc, "v1")
	if _, err := oras.Copy(ctx, src, "v1", e.orasRepo("alice/private/x", "alice", alicePass), "v1", oras.DefaultCopyOptions); err != nil {
		t.Fatal(err)
	}
	// bob may not push into alice's entity.
	if _, err := oras.Copy(ctx, src, "v1", e.orasRepo("alice/private/x", "bob", bobTok), "v2", oras.DefaultCopyOptions); err == nil {
		t.Fatal("bob pushed into alice's collection")
	}
	// Make the collection private through the Library API.
	_, body := e.must(200, req{method: "GET", path: "/v1/collections/alice/private", bearer: aliceTok})
	var col struct{ Data struct{ ID string } }
	if err := json.Unmarshal(body, &col); err != nil || col.Data.ID == "" {
		t.Fatalf("collection %s: %v", body, err)
	}
	putJSON(t, e, "/v1/collections/"+col.Data.ID, aliceTok, `{"private":true}`)
	_, body = e.must(404, req{method: "GET", path: "/v2/alice/private/x/manifests/v1", user: "bob", pass: bobTok})
	if ociErrorCode(t, body) != "NAME_UNKNOWN" {
		t.Fatalf("bob: %s", body)
	}
	e.must(200, req{method: "GET", path: "/v2/alice/private/x/manifests/v1", user: "alice", pass: aliceTok})
	if _, body := e.must(200, req{method: "GET", path: "/v2/_catalog", user: "bob", pass: bobTok}); strings.Contains(string(body), "alice/private") {
		t.Fatalf("catalog leaks %s", body)
	}
}

func putJSON(t *testing.T, e *env, path, token, body string) {
	t.Helper()
	hr, _ := http.NewRequest("PUT", e.srv.URL+path, strings.NewReader(body))
	hr.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT %s: %d %s", path, resp.StatusCode, b)
	}
}
