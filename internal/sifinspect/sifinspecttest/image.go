// Package sifinspecttest builds SIF images the way `singularity build` lays
// them out, for the tests of package sifinspect and its squashfs reader:
// a /.singularity.d tree squashed by the real mksquashfs, wrapped in a SIF
// with sif/v2, optionally signed with sif/v2's integrity package.
package sifinspecttest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/silo-hpc/silo/internal/testenv"
)

// Image is a root file system tree.
type Image struct {
	Files    map[string]string // absolute path -> content
	Symlinks map[string]string // absolute path -> target
	Dirs     []string          // directories that may stay empty
}

// EnvFiles returns the names singularity build writes into
// /.singularity.d/env, in the order `singularity inspect --environment`
// shows them.
func EnvFiles() []string {
	return []string{
		"01-base.sh", "10-docker2singularity.sh", "90-environment.sh",
		"94-appsbase.sh", "95-apps.sh", "99-base.sh", "99-runtimevars.sh",
	}
}

// Singularity returns a tree shaped like a built image's: actions, env
// files, libs, runscript, startscript, test, labels.json, the definition
// file, and the usual compatibility symlinks at the root.
func Singularity() Image {
	im := Image{
		Files: map[string]string{
			"/.singularity.d/runscript":   "#!/bin/sh\n\necho \"Hello from the runscript\" \"$@\"\n",
			"/.singularity.d/startscript": "#!/bin/sh\n\nexec /usr/sbin/nginx -g 'daemon off;'\n",
			"/.singularity.d/test":        "#!/bin/sh\n\ntest -x /bin/sh && echo ok\n",
			"/.singularity.d/labels.json": "{\n\t\"Maintainer\": \"hpc@example.org\",\n\t\"Version\": \"1.2.3\",\n" +
				"\t\"org.label-schema.build-arch\": \"amd64\",\n\t\"org.label-schema.schema-version\": \"1.0\"\n}",
			"/.singularity.d/Singularity":    Deffile,
			"/.singularity.d/runscript.help": "Prints a greeting.\n",
			"/.singularity.d/actions/exec":   "#!/bin/sh\nexec \"$@\"\n",
			"/.singularity.d/actions/run":    "#!/bin/sh\nexec /.singularity.d/runscript \"$@\"\n",
			"/.singularity.d/actions/shell":  "#!/bin/sh\nexec /bin/sh \"$@\"\n",
			"/.singularity.d/actions/start":  "#!/bin/sh\nexec /.singularity.d/startscript\n",
			"/.singularity.d/actions/test":   "#!/bin/sh\nexec /.singularity.d/test \"$@\"\n",
			"/etc/hostname":                  "container\n",
			"/bin/busybox":                   "not really busybox\n",
		},
		Symlinks: map[string]string{
			"/singularity":     ".singularity.d/runscript",
			"/.run":            ".singularity.d/actions/run",
			"/.exec":           ".singularity.d/actions/exec",
			"/.shell":          ".singularity.d/actions/shell",
			"/.test":           ".singularity.d/actions/test",
			"/environment":     ".singularity.d/env/90-environment.sh",
			"/bin/sh":          "busybox",
			"/etc/resolv.conf": "/run/resolv.conf",
		},
		Dirs: []string{"/.singularity.d/libs", "/dev", "/proc", "/sys", "/tmp", "/home"},
	}
	for i, name := range EnvFiles() {
		im.Files["/.singularity.d/env/"+name] = EnvContent(i, name)
	}
	return im
}

// Deffile is the definition file of the image Singularity returns.
const Deffile = "Bootstrap: docker\nFrom: alpine:3.20\n\n%labels\n    Maintainer hpc@example.org\n" +
	"    Version 1.2.3\n\n%environment\n    export GREETING=hello\n\n%runscript\n" +
	"    echo \"Hello from the runscript\" \"$@\"\n"

// EnvContent is what Singularity writes into the i-th env file.
func EnvContent(i int, name string) string {
	return "#!/bin/sh\n# " + name + "\nexport SILO_ENV_" + string(rune('A'+i)) + "=\"value " + name + "\"\n"
}

// Write lays the tree out under dir.
func (im Image) Write(t testing.TB, dir string) {
	t.Helper()
	for _, d := range im.Dirs {
		mustMkdir(t, filepath.Join(dir, d))
	}
	for p, content := range im.Files {
		full := filepath.Join(dir, p)
		mustMkdir(t, filepath.Dir(full))
		if err := os.WriteFile(full, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, target := range im.Symlinks {
		full := filepath.Join(dir, p)
		mustMkdir(t, filepath.Dir(full))
		if err := os.Symlink(target, full); err != nil {
			t.Fatal(err)
		}
	}
}

func mustMkdir(t testing.TB, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

// SquashFile runs mksquashfs on dir with compressor comp (gzip, xz, zstd,
// lz4, lzo) and returns the image's path. Extra arguments are passed on.
func SquashFile(t testing.TB, dir, comp string, extra ...string) string {
	t.Helper()
	bin := testenv.LookPath(t, "mksquashfs")
	out := filepath.Join(t.TempDir(), "rootfs-"+comp+".sqfs")
	args := append([]string{dir, out, "-comp", comp, "-noappend", "-all-root", "-no-progress", "-quiet"}, extra...)
	if b, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("mksquashfs %v: %v\n%s", args, err, b)
	}
	return out
}

// Squash is SquashFile returning the image's bytes.
func Squash(t testing.TB, dir, comp string, extra ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(SquashFile(t, dir, comp, extra...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
