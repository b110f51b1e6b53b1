package sregistryapi_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/sifinspect/sifinspecttest"
)

// The manifest's metadata (SR §5.1) is what the server read from the
// image: a SIF laid out as `singularity build` makes it (mksquashfs).
func TestManifestMetadata(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	sifinspecttest.Singularity().Write(t, dir)
	img := sifinspecttest.SIF(t, sifinspecttest.Squash(t, dir, "gzip"),
		sifinspecttest.SIFOptions{Deffile: "Bootstrap: docker\nFrom: alpine\n", Labels: map[string]string{"maintainer": "hpc"}})
	path := filepath.Join(t.TempDir(), "built.sif")
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	if res := e.cli("alice").push(path, "built", "app", "latest"); res.status2 != 200 {
		t.Fatalf("push: %+v", res)
	}
	got := e.cli("").pull("built", "app", "latest")
	md, _ := got.manifest["metadata"].(map[string]any)
	env, _ := md["environment"].(string)
	if got.outcome != "ok" || !equal(got.file, img) || md["deffile"] != "Bootstrap: docker\nFrom: alpine\n" ||
		md["runscript"] != "#!/bin/sh\n\necho \"Hello from the runscript\" \"$@\"\n" ||
		md["test"] != "#!/bin/sh\n\ntest -x /bin/sh && echo ok\n" || md["size_mb"] != float64(1) {
		t.Fatalf("%s: metadata %v", got.outcome, md)
	}
	for i, name := range sifinspecttest.EnvFiles() {
		want := "=== /.singularity.d/env/" + name + " ===\n" + sifinspecttest.EnvContent(i, name)
		if !strings.Contains(env, want) {
			t.Fatalf("environment lacks %q:\n%s", want, env)
		}
	}
}
