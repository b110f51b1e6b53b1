package ociapi_test

// Real third-party clients against the real server: go-containerregistry
// (what Singularity, Apptainer and crane use) and oras-go (oras).

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	orasremote "oras.land/oras-go/v2/registry/remote"
	orasauth "oras.land/oras-go/v2/registry/remote/auth"

	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
)

// recorder is an http.RoundTripper that remembers every request line and
// status, so tests can check which protocol paths a client really took.
type recorder struct {
	mu  sync.Mutex
	log []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.log = append(r.log, req.Method+" "+req.URL.RequestURI()+" "+resp.Status[:3])
		r.mu.Unlock()
	}
	return resp, err
}

func (r *recorder) has(substr ...string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.log {
		ok := true
		for _, s := range substr {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			return true
		}
	}
	return false
}

func (e *env) ref(s string) name.Reference {
	e.t.Helper()
	r, err := name.ParseReference(e.host+"/"+s, name.Insecure)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) ggcrOpts(rt http.RoundTripper, user, pass string) []remote.Option {
	opts := []remote.Option{remote.WithContext(context.Background())}
	if user != "" {
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: user, Password: pass}))
	}
	if rt != nil {
		opts = append(opts, remote.WithTransport(rt))
	}
	return opts
}

// go-containerregistry pushes and pulls images and indexes through the
// token flow, with streamed uploads and cross-repository mounts.
func TestGGCRImagesAndIndexes(t *testing.T) {
	e := newEnv(t)
	rec := &recorder{}
	opts := e.ggcrOpts(rec, "admin", e.adminToken)

	img, err := random.Image(4096, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(e.ref("admin/ggcr:v1"), img, opts...); err != nil {
		t.Fatal(err)
	}
	if !rec.has("GET /v2/token?", "200") || !rec.has("PATCH /v2/admin/ggcr/blobs/uploads/", "202") {
		t.Fatalf("expected token flow and streamed PATCH, got %v", rec.log)
	}
	got, err := remote.Image(e.ref("admin/ggcr:v1"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	wantDigest, _ := img.Digest()
	if d, _ := got.Digest(); d != wantDigest {
		t.Fatalf("pulled %s, pushed %s", d, wantDigest)
	}
	layers, _ := got.Layers()
	for _, l := range layers { // contents are checked against digests by ggcr
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}

	// Writing the pulled image elsewhere mounts its layers (201).
	if err := remote.Write(e.ref("admin/other:v1"), got, opts...); err != nil {
		t.Fatal(err)
	}
	if !rec.has("POST /v2/admin/other/blobs/uploads/?", "mount=", "from=admin%2Fggcr", "201") {
		t.Fatalf("no mount: %v", rec.log)
	}

	idx, err := random.Index(1024, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(e.ref("admin/ggcr:index"), idx, opts...); err != nil {
		t.Fatal(err)
	}
	gotIdx, err := remote.Index(e.ref("admin/ggcr:index"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := digestOf(t, gotIdx), digestOf(t, idx); a != b {
		t.Fatalf("index %s, pushed %s", a, b)
	}
	desc, err := remote.Head(e.ref("admin/ggcr:index"), opts...)
	if err != nil || desc.MediaType != types.OCIImageIndex {
		t.Fatalf("head index: %+v %v", desc, err)
	}
}

func digestOf(t *testing.T, x interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	d, err := x.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// go-containerregistry lists tags across pages (Link), lists the catalog,
// finds referrers, deletes, and pulls anonymously.
func TestGGCRDiscoveryAndDeletes(t *testing.T) {
	e := newEnv(t)
	opts := e.ggcrOpts(nil, "admin", e.adminToken)
	img, _ := random.Image(512, 1)
	for _, tag := range []string{"a", "b", "c", "d", "e"} {
		if err := remote.Write(e.ref("admin/tags:"+tag), img, opts...); err != nil {
			t.Fatal(err)
		}
	}
	repo := e.ref("admin/tags:a").Context()
	tags, err := remote.List(repo, append(opts, remote.WithPageSize(2))...)
	if err != nil || strings.Join(tags, ",") != "a,b,c,d,e" {
		t.Fatalf("tags %v %v", tags, err)
	}
	cat, err := remote.Catalog(context.Background(), repo.Registry, opts...)
	if err != nil || strings.Join(cat, ",") != "admin/tags" {
		t.Fatalf("catalog %v %v", cat, err)
	}

	// An artifact referring to the image.
	subject, _ := img.Manifest()
	subjDigest := digestOf(t, img)
	art := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), "application/vnd.test.sig")
	art = mutate.Subject(art, v1.Descriptor{MediaType: types.DockerManifestSchema2, Digest: subjDigest, Size: sizeOf(t, img)}).(v1.Image)
	artDigest := digestOf(t, art)
	if err := remote.Write(e.ref("admin/tags@"+artDigest.String()), art, opts...); err != nil {
		t.Fatal(err)
	}
	refs, err := remote.Referrers(repo.Digest(subjDigest.String()), opts...)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := refs.IndexManifest()
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != artDigest || im.Manifests[0].ArtifactType != "application/vnd.test.sig" {
		t.Fatalf("referrers %+v (subject config %s)", im.Manifests, subject.Config.MediaType)
	}

	// Anonymous pull of a public repository.
	if _, err := remote.Image(e.ref("admin/tags:a"), e.ggcrOpts(nil, "", "")...); err != nil {
		t.Fatalf("anonymous pull: %v", err)
	}
	// Deletes: a tag, then the manifest by digest.
	if err := remote.Delete(e.ref("admin/tags:e"), opts...); err != nil {
		t.Fatal(err)
	}
	if err := remote.Delete(repo.Digest(subjDigest.String()), opts...); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Image(e.ref("admin/tags:a"), opts...); err == nil {
		t.Fatal("tag a survived the delete of its manifest")
	}
	if tags, _ := remote.List(repo, opts...); len(tags) != 0 {
		t.Fatalf("tags left %v", tags)
	}
}

func sizeOf(t *testing.T, img v1.Image) int64 {
	t.Helper()
	n, err := img.Size()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// go-containerregistry sees private repositories only with credentials of
// someone allowed.
func TestGGCRPrivacy(t *testing.T) {
	e := newEnv(t)
	bobPass, _ := e.user("bob", meta.RoleUser)
	_, eveTok := e.user("eve", meta.RoleUser)
	img, _ := random.Image(256, 1)
	if err := remote.Write(e.ref("bob/app:v1"), img, e.ggcrOpts(nil, "bob", bobPass)...); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Meta.InTx(context.Background(), func(tx meta.Store) error {
		r, err := tx.GetRepository(context.Background(), "bob/app")
		if err != nil {
			return err
		}
		r.Private = true
		return tx.UpdateRepository(context.Background(), &r)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Image(e.ref("bob/app:v1"), e.ggcrOpts(nil, "bob", bobPass)...); err != nil {
		t.Fatalf("owner pull: %v", err)
	}
	_, err := remote.Image(e.ref("bob/app:v1"), e.ggcrOpts(nil, "eve", eveTok)...)
	if err == nil || !strings.Contains(err.Error(), "NAME_UNKNOWN") {
		t.Fatalf("eve pull: %v", err)
	}
	if _, err := remote.Image(e.ref("bob/app:v1"), e.ggcrOpts(nil, "", "")...); err == nil {
		t.Fatal("anonymous pull of a private repository")
	}
	if err := remote.Write(e.ref("bob/app:v2"), img, e.ggcrOpts(nil, "eve", eveTok)...); err == nil {
		t.Fatal("eve pushed to bob's repository")
	}
}

// orasRepo returns an oras-go repository client with static credentials.
func (e *env) orasRepo(name, user, pass string) *orasremote.Repository {
	e.t.Helper()
	repo, err := orasremote.NewRepository(e.host + "/" + name)
	if err != nil {
		e.t.Fatal(err)
	}
	repo.PlainHTTP = true
	client := &orasauth.Client{Client: http.DefaultClient, Cache: orasauth.NewCache()}
	if user != "" {
		client.Credential = orasauth.StaticCredential(e.host, orasauth.Credential{Username: user, Password: pass})
	}
	repo.Client = client
	return repo
}

// sifArtifact packs a SIF artifact as `singularity push oras://` does:
// config {} of the SIF config type, one SIF layer with a title.
func sifArtifact(t *testing.T, store *memory.Store, sif []byte, title string) (ocispec.Descriptor, ocispec.Descriptor) {
	t.Helper()
	ctx := context.Background()
	cfg := content.NewDescriptorFromBytes(oci.SIFConfigMediaType, oci.EmptyJSON)
	layer := content.NewDescriptorFromBytes(oci.SIFLayerMediaType, sif)
	layer.Annotations = map[string]string{oci.AnnotationTitle: title}
	if err := store.Push(ctx, cfg, bytes.NewReader(oci.EmptyJSON)); err != nil {
		t.Fatal(err)
	}
	if err := store.Push(ctx, layer, bytes.NewReader(sif)); err != nil {
		t.Fatal(err)
	}
	m, err := oras.PackManifest(ctx, store, oras.PackManifestVersion1_1, "", oras.PackManifestOptions{
		ConfigDescriptor: &cfg, Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		t.Fatal(err)
	}
	return m, layer
}

// oras-go pushes a SIF artifact and pulls it back byte-identical, and
// pushes and lists a referrer.
func TestORASArtifacts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bobPass, _ := e.user("bob", meta.RoleUser)
	repo := e.orasRepo("bob/sif/tools", "bob", bobPass)
	src := memory.New()
	_, sif := makeSIF(t, "amd64", 200_000)
	mdesc, layer := sifArtifact(t, src, sif, "tools.sif")
	if err := src.Tag(ctx, mdesc, "v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := oras.Copy(ctx, src, "v1", repo, "v1", oras.DefaultCopyOptions); err != nil {
		t.Fatal(err)
	}
	dst := memory.New()
	got, err := oras.Copy(ctx, e.orasRepo("bob/sif/tools", "", ""), "v1", dst, "v1", oras.DefaultCopyOptions)
	if err != nil {
		t.Fatalf("anonymous oras pull: %v", err)
	}
	if got.Digest != mdesc.Digest {
		t.Fatalf("manifest %s, pushed %s", got.Digest, mdesc.Digest)
	}
	b, err := content.FetchAll(ctx, dst, layer)
	if err != nil || !bytes.Equal(b, sif) {
		t.Fatalf("SIF differs (%v)", err)
	}

	// A referrer (a signature) pushed with oras-go, found with oras-go.
	sig := content.NewDescriptorFromBytes("application/vnd.test.sig", []byte("sig"))
	if err := src.Push(ctx, sig, bytes.NewReader([]byte("sig"))); err != nil {
		t.Fatal(err)
	}
	sigM, err := oras.PackManifest(ctx, src, oras.PackManifestVersion1_1, "application/vnd.test.sig",
		oras.PackManifestOptions{Layers: []ocispec.Descriptor{sig}, Subject: &mdesc})
	if err != nil {
		t.Fatal(err)
	}
	if err := oras.CopyGraph(ctx, src, repo, sigM, oras.DefaultCopyGraphOptions); err != nil {
		t.Fatal(err)
	}
	var found []ocispec.Descriptor
	if err := repo.Referrers(ctx, mdesc, "application/vnd.test.sig", func(r []ocispec.Descriptor) error {
		found = append(found, r...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Digest != sigM.Digest {
		t.Fatalf("referrers %+v", found)
	}
	// Deleting through oras-go.
	if err := repo.Delete(ctx, sigM); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Resolve(ctx, sigM.Digest.String()); err == nil {
		t.Fatal("deleted manifest resolves")
	}
}
