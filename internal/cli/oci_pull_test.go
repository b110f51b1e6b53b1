package cli

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	ggcrremote "github.com/google/go-containerregistry/pkg/v1/remote"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/memory"
	orasremote "oras.land/oras-go/v2/registry/remote"
	orasauth "oras.land/oras-go/v2/registry/remote/auth"
)

// oras:// and docker:// pull the SIF artifact the server keeps for every
// library image: the same bytes, the same catalogue entry (same version).
// oras:// push writes one the library then serves.
func TestPullPushOras(t *testing.T) {
	e := newLibEnv(t)
	img := makeSIF(t, "amd64", 128<<10, 11)
	sum := sha256File(t, img)
	e.push(img, "dino/rex:v1")
	stored := e.storage("dino", "rex", "v1", sum)
	h := e.srv.Host
	e.mustRun("", "pull", "oras://"+h+"/alice/dino/rex:v1").expectOut(t, "[container][new] dino/rex:v1\nSuccess! "+stored+"\n")
	sameFile(t, stored, img)
	e.mustRun("", "pull", "dino/rex:v1").expectOut(t, "[container][update] dino/rex:v1\nSuccess! "+stored+"\n")
	e.mustRun("", "pull", "docker://"+h+"/alice/dino/rex:v1").expectOut(t, "[container][update] dino/rex:v1\nSuccess! "+stored+"\n")
	out := filepath.Join(t.TempDir(), "x.sif")
	e.mustRun("", "pull", "--no-cache", "-o", out, "oras://"+h+"/alice/dino/rex@"+ociDigest(t, e, "alice/dino/rex", "v1"))
	sameFile(t, out, img)

	// Push over oras:// (credentials from `registry login`), pull from the library.
	e.mustRun(e.tokens["alice"], "registry", "login", "-u", "alice", "--password-stdin", "oras://"+h)
	v2 := makeSIF(t, "amd64", 96<<10, 12)
	r := e.mustRun("", "push", "-U", v2, "oras://"+h+"/alice/dino/rex:v2")
	if !strings.HasPrefix(r.stdout, "[Return status 201 Created] oras://"+h+"/alice/dino/rex@sha256:") {
		t.Errorf("push stdout %q", r.stdout)
	}
	e.mustRun("", "pull", "dino/rex:v2")
	sameFile(t, e.storage("dino", "rex", "v2", sha256File(t, v2)), v2)
}

// ociDigest is the manifest digest the registry gives repo:tag.
func ociDigest(t *testing.T, e *libEnv, repo, tag string) string {
	t.Helper()
	req, _ := http.NewRequest("HEAD", e.srv.URL+"/v2/"+repo+"/manifests/"+tag, nil)
	req.Header.Set("Accept", ocispec.MediaTypeImageManifest)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	d := resp.Header.Get("Docker-Content-Digest")
	if d == "" {
		t.Fatalf("HEAD %s:%s: %s", repo, tag, resp.Status)
	}
	return d
}

// Credentials for a private oras:// pull come from, highest first: the
// --docker-* flags, SILO_DOCKER_*, DOCKER_*, the auth file (--authfile,
// SILO_AUTHFILE, or the default one, written 0600 by `registry login`).
func TestPullOCICredentialPrecedence(t *testing.T) {
	e := newLibEnv(t)
	img := makeSIF(t, "amd64", 16<<10, 13)
	e.push(img, "secret/app:v1")
	e.makePrivate("alice", "alice/secret")
	ref := "oras://" + e.srv.Host + "/alice/secret/app:v1"
	tok := e.tokens["alice"]
	pull := func(args ...string) siloRun {
		return e.run("", append([]string{"pull", "--no-cache", "--force", "-o", filepath.Join(e.cfg, "out.sif")}, append(args, ref)...)...)
	}
	ok := func(r siloRun) {
		t.Helper()
		if r.code != 0 {
			t.Errorf("pull failed: %s", r.stderr)
		}
	}
	refused := func(r siloRun) {
		t.Helper()
		r.expectFatal(t, "while pulling "+ref+": ")
	}
	refused(pull())
	e.mustRun(tok, "registry", "login", "-u", "alice", "--password-stdin", "oras://"+e.srv.Host)
	assertMode(t, filepath.Join(e.cfg, "docker-config.json"), 0o600)
	ok(pull())
	t.Setenv("DOCKER_USERNAME", "alice")
	t.Setenv("DOCKER_PASSWORD", "wrong")
	refused(pull()) // DOCKER_* beat the auth file
	t.Setenv("SILO_DOCKER_USERNAME", "alice")
	t.Setenv("SILO_DOCKER_PASSWORD", tok)
	ok(pull()) // SILO_DOCKER_* beat DOCKER_*
	refused(pull("--docker-username", "alice", "--docker-password", "wrong"))
	t.Setenv("SILO_DOCKER_PASSWORD", "wrong")
	ok(pull("--docker-username", "alice", "--docker-password", tok))
	unsetEnv(t, "DOCKER_USERNAME", "DOCKER_PASSWORD", "SILO_DOCKER_USERNAME", "SILO_DOCKER_PASSWORD")

	// Another auth file, named by --authfile or SILO_AUTHFILE.
	e.mustRun("", "registry", "logout", "oras://"+e.srv.Host)
	refused(pull())
	other := filepath.Join(t.TempDir(), "auth.json")
	e.mustRun(tok, "registry", "login", "--authfile", other, "-u", "alice", "--password-stdin", "oras://"+e.srv.Host)
	assertMode(t, other, 0o600)
	ok(pull("--authfile", other))
	t.Setenv("SILO_AUTHFILE", other)
	ok(pull())
}

// unsetEnv unsets variables for the rest of the test (t.Setenv first,
// so they are restored after).
func unsetEnv(t *testing.T, keys ...string) {
	for _, k := range keys {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

// What is not a SIF is named in the error, and nothing is written.
func TestPullOCINotSIF(t *testing.T) {
	e := newLibEnv(t)
	h := e.srv.Host
	auth := authn.FromConfig(authn.AuthConfig{Username: "alice", Password: e.tokens["alice"]})
	imgRef, err := name.ParseReference(h+"/alice/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := random.Image(512, 1)
	if err := ggcrremote.Write(imgRef, img, ggcrremote.WithAuth(auth)); err != nil {
		t.Fatal(err)
	}
	e.run("", "pull", "docker://"+h+"/alice/app:v1").expectFatal(t, "while pulling docker://"+h+"/alice/app:v1: "+
		"this is a container image (config application/vnd.docker.container.image.v1+json, 1 layer), not a SIF image: "+
		"silo pulls SIF images only (singularity build turns an OCI image into a SIF)")

	// An artifact of another type (a Helm chart, say) pushed with oras-go.
	ctx := context.Background()
	src := memory.New()
	blob := []byte("chart")
	layer, err := oras.PushBytes(ctx, src, "application/vnd.cncf.helm.chart.content.v1.tar+gzip", blob)
	if err != nil {
		t.Fatal(err)
	}
	m, err := oras.PackManifest(ctx, src, oras.PackManifestVersion1_1, "application/vnd.cncf.helm.config.v1+json",
		oras.PackManifestOptions{Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Tag(ctx, m, "1.0"); err != nil {
		t.Fatal(err)
	}
	repo, err := orasremote.NewRepository(h + "/alice/chart")
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	repo.Client = &orasauth.Client{Credential: orasauth.StaticCredential(h, orasauth.Credential{Username: "alice", Password: e.tokens["alice"]})}
	if _, err := oras.Copy(ctx, src, "1.0", repo, "1.0", oras.DefaultCopyOptions); err != nil {
		t.Fatal(err)
	}
	e.run("", "pull", "oras://"+h+"/alice/chart:1.0").expectFatal(t, "while pulling oras://"+h+"/alice/chart:1.0: "+
		"this is an OCI artifact of type application/vnd.cncf.helm.config.v1+json (1 layer), not a SIF image")
	if r := e.mustRun("", "images"); r.stdout != "" {
		t.Errorf("catalogue: %s", r.stdout)
	}
}
