package ociapi_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/silo-hpc/silo/internal/testenv"
)

// skopeo runs the real skopeo (containers/image, what podman uses) with a
// deadline and an isolated configuration.
func skopeo(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := testenv.LookPath(t, "skopeo")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--insecure-policy"}, args...)...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_RUNTIME_DIR="+home, "REGISTRY_AUTH_FILE="+filepath.Join(home, "auth.json"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// skopeo copies an OCI layout into Silo and back out unchanged.
func TestSkopeoCopy(t *testing.T) {
	e := newEnv(t)
	testenv.LookPath(t, "skopeo")
	src := t.TempDir()
	lp, err := layout.Write(src, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	// An OCI image: skopeo's layout reader skips Docker media types.
	var img v1.Image = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for i := 0; i < 2; i++ {
		l, err := random.Layer(2048, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "v1"})); err != nil {
		t.Fatal(err)
	}
	creds := "admin:" + e.adminToken
	if out, err := skopeo(t, "copy", "--dest-tls-verify=false", "--dest-creds", creds,
		"oci:"+src+":v1", "docker://"+e.host+"/admin/skopeo:v1"); err != nil {
		t.Fatalf("copy in: %v\n%s", err, out)
	}
	dst := t.TempDir()
	if out, err := skopeo(t, "copy", "--src-tls-verify=false", "--src-creds", creds,
		"docker://"+e.host+"/admin/skopeo:v1", "oci:"+dst+":v1"); err != nil {
		t.Fatalf("copy out: %v\n%s", err, out)
	}
	back, err := layout.ImageIndexFromPath(dst)
	if err != nil {
		t.Fatal(err)
	}
	im, err := back.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("layout index %+v %v", im, err)
	}
	got, err := back.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	wantLayers, _ := img.Layers()
	gotLayers, _ := got.Layers()
	if len(gotLayers) != len(wantLayers) {
		t.Fatalf("%d layers back, %d pushed", len(gotLayers), len(wantLayers))
	}
	for i := range wantLayers {
		if digestOf(t, gotLayers[i]) != digestOf(t, wantLayers[i]) {
			t.Fatalf("layer %d differs", i)
		}
	}
	if out, err := skopeo(t, "inspect", "--tls-verify=false", "--creds", creds, "docker://"+e.host+"/admin/skopeo:v1"); err != nil || !strings.Contains(out, `"Tag": "v1"`) && !strings.Contains(out, "admin/skopeo") {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
}

// skopeo login verifies the password through the token endpoint: a good
// one is stored in --authfile, a bad one fails.
func TestSkopeoLogin(t *testing.T) {
	e := newEnv(t)
	testenv.LookPath(t, "skopeo")
	authfile := filepath.Join(t.TempDir(), "auth.json")
	out, err := skopeo(t, "login", "--tls-verify=false", "--authfile", authfile, "-u", "admin", "-p", e.adminPass, e.host)
	if err != nil || !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("good login: %v\n%s", err, out)
	}
	b, err := os.ReadFile(authfile)
	if err != nil || !strings.Contains(string(b), e.host) {
		t.Fatalf("authfile %s: %v", b, err)
	}
	bad := filepath.Join(t.TempDir(), "auth.json")
	out, err = skopeo(t, "login", "--tls-verify=false", "--authfile", bad, "-u", "admin", "-p", "wrong", e.host)
	if err == nil {
		t.Fatalf("bad password accepted:\n%s", out)
	}
	if _, err := os.Stat(bad); err == nil {
		if b, _ := os.ReadFile(bad); strings.Contains(string(b), e.host) {
			t.Fatal("bad login stored credentials")
		}
	}
}
