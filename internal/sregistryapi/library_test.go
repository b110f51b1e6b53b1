package sregistryapi_test

// Helpers that drive the other protocols with their real clients:
// scs-library-client (what `singularity push/pull library://` uses) and
// oras-go (`oras://`).

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sylabs/scs-library-client/client"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/silo-hpc/silo/internal/oci"
)

// library returns scs-library-client for a user ("" anonymous).
func (e *env) library(name string) *client.Client {
	e.t.Helper()
	tok := ""
	if u := e.users[name]; u != nil {
		tok = u.token
	}
	c, err := client.NewClient(&client.Config{BaseURL: e.srv.URL, AuthToken: tok})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// libPush pushes path to ref ("e/c/n") with tags over the Library API.
func (e *env) libPush(name, path, ref string, tags ...string) {
	e.t.Helper()
	f, err := os.Open(path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	if _, err := e.library(name).UploadImage(context.Background(), f, ref, "amd64", tags, "test", nil); err != nil {
		e.t.Fatalf("library push %s: %v", ref, err)
	}
}

// libPull pulls ref:tag over the Library API.
func (e *env) libPull(name, ref, tag string) []byte {
	e.t.Helper()
	var buf bytes.Buffer
	if err := e.library(name).DownloadImage(context.Background(), &buf, "amd64", ref, tag, nil); err != nil {
		e.t.Fatalf("library pull %s:%s: %v", ref, tag, err)
	}
	return buf.Bytes()
}

// orasPull pulls repo:tag with oras-go as user and returns the single
// layer's bytes.
func (e *env) orasPull(name, repo, tag string) []byte {
	e.t.Helper()
	ctx := context.Background()
	dst := memory.New()
	desc, err := oras.Copy(ctx, e.orasRepo(name, repo), tag, dst, tag, oras.DefaultCopyOptions)
	if err != nil {
		e.t.Fatalf("oras pull %s:%s: %v", repo, tag, err)
	}
	mb, err := content.FetchAll(ctx, dst, desc)
	if err != nil {
		e.t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(mb, &m); err != nil || len(m.Layers) != 1 {
		e.t.Fatalf("manifest %s: %v", mb, err)
	}
	b, err := content.FetchAll(ctx, dst, m.Layers[0])
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// orasPush pushes a SIF as the artifact `singularity push oras://` makes
// to repo:tag with oras-go, as user.
func (e *env) orasPush(name, repo, tag string, sifBytes []byte) {
	e.t.Helper()
	ctx := context.Background()
	src := memory.New()
	cfg := content.NewDescriptorFromBytes(oci.SIFConfigMediaType, oci.EmptyJSON)
	layer := content.NewDescriptorFromBytes(oci.SIFLayerMediaType, sifBytes)
	layer.Annotations = map[string]string{oci.AnnotationTitle: "image.sif"}
	if err := src.Push(ctx, cfg, bytes.NewReader(oci.EmptyJSON)); err != nil {
		e.t.Fatal(err)
	}
	if err := src.Push(ctx, layer, bytes.NewReader(sifBytes)); err != nil {
		e.t.Fatal(err)
	}
	m, err := oras.PackManifest(ctx, src, oras.PackManifestVersion1_1, "", oras.PackManifestOptions{
		ConfigDescriptor: &cfg, Layers: []ocispec.Descriptor{layer}})
	if err == nil {
		err = src.Tag(ctx, m, tag)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := oras.Copy(ctx, src, tag, e.orasRepo(name, repo), tag, oras.DefaultCopyOptions); err != nil {
		e.t.Fatalf("oras push %s:%s: %v", repo, tag, err)
	}
}

// orasRepo is repo on the server for oras-go, as user ("" anonymous).
func (e *env) orasRepo(name, repo string) *remote.Repository {
	e.t.Helper()
	r, err := remote.NewRepository(e.srv.Host + "/" + repo)
	if err != nil {
		e.t.Fatal(err)
	}
	r.PlainHTTP = true
	if u := e.users[name]; u != nil {
		r.Client = &auth.Client{Credential: auth.StaticCredential(e.srv.Host, auth.Credential{Username: u.name, Password: u.token})}
	}
	return r
}

// freeze freezes (or thaws) entity/collection/container through the
// Library API, as its owner.
func (e *env) freeze(name, path string, frozen bool) {
	e.t.Helper()
	id := e.libID(name, "/v1/containers/"+path)
	body := `{"frozen":` + map[bool]string{true: "true", false: "false"}[frozen] + `}`
	if st, _, b := e.do("PUT", "/v1/containers/"+id, "Bearer "+e.users[name].token, strings.NewReader(body)); st != http.StatusOK {
		e.t.Fatalf("freeze %s: %d %s", path, st, b)
	}
}

// setPrivate makes entity/collection private (or public) as its owner.
func (e *env) setPrivate(name, path string, private bool) {
	e.t.Helper()
	id := e.libID(name, "/v1/collections/"+path)
	body := `{"private":` + map[bool]string{true: "true", false: "false"}[private] + `}`
	if st, _, b := e.do("PUT", "/v1/collections/"+id, "Bearer "+e.users[name].token, strings.NewReader(body)); st != http.StatusOK {
		e.t.Fatalf("privacy of %s: %d %s", path, st, b)
	}
}

// libID reads the id of a Library API object.
func (e *env) libID(name, path string) string {
	e.t.Helper()
	st, _, b := e.do("GET", path, "Bearer "+e.users[name].token, nil)
	var v struct{ Data struct{ ID string } }
	if err := json.Unmarshal(b, &v); st != http.StatusOK || err != nil || v.Data.ID == "" {
		e.t.Fatalf("GET %s: %d %s", path, st, b)
	}
	return v.Data.ID
}

var _ testing.TB = (*testing.T)(nil)
