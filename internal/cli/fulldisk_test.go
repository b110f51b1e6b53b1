package cli

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/client"
)

// A full disk on the client fails the pull cleanly: one FATAL line, no
// partial file left where images are kept, nothing in the catalogue.
//
// The disk is a real one: a 256 KiB tmpfs mounted over the catalogue's
// images directory, in a private mount namespace (`unshare -rm`, no root
// needed where user namespaces are allowed), where this test binary runs
// the pull as a helper process. Where unshare or mounting is not
// possible the test skips (fails with SILO_REQUIRE_TOOLS=1).
func TestPullFullDisk(t *testing.T) {
	if raceEnabled {
		t.Skip("helper processes under the race detector: run without -race")
	}
	e := newLibEnv(t)
	img := makeSIF(t, "amd64", 1<<20, 8)
	e.push(img, "dino/big:v1")
	images := filepath.Join(e.cfg, "images")
	if err := os.MkdirAll(images, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, conc := range []string{"1", "4"} {
		out := runInSmallDisk(t, images, conc, "pull", "dino/big:v1")
		want := "FATAL:   while pulling dino/big:v1: writing the image: write " +
			client.PartialPath(e.storage("dino", "big", "v1", sha256File(t, img))) + ": no space left on device\n" +
			"exit 255\nleft: none\n"
		if out != want {
			t.Errorf("concurrency %s:\n%s\nwant:\n%s", conc, out, want)
		}
		if r := e.mustRun("", "images"); r.stdout != "" {
			t.Errorf("catalogue:\n%s", r.stdout)
		}
	}
}

// runInSmallDisk runs `silo args...` in a helper process whose dir is a
// 256 KiB tmpfs, and returns its stderr, exit status and the files left
// in dir.
func runInSmallDisk(t *testing.T, dir, concurrency string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		skipOrFail(t, "unshare not installed")
	}
	script := `mount -t tmpfs -o size=256k silo-test "$1" || exit 77; shift; exec "$@"`
	cmd := exec.Command("unshare", append([]string{"-rm", "sh", "-c", script, "sh", dir, os.Args[0],
		"-test.run=^TestSmallDiskHelper$"}, args...)...)
	cmd.Env = append(os.Environ(), "SILO_SMALL_DISK_HELPER="+dir, envConcurrency+"="+concurrency, envPartSize+"=65536")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 77 || strings.Contains(out.String(), "unshare failed") {
		skipOrFail(t, "cannot mount a tmpfs in a private mount namespace: "+out.String())
	}
	return out.String()
}

func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("SILO_REQUIRE_TOOLS") == "1" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// TestSmallDiskHelper is the helper process of runInSmallDisk: it runs
// silo with the arguments after the test flags and reports what it
// printed, its exit status and the files left in the small disk.
func TestSmallDiskHelper(t *testing.T) {
	dir := os.Getenv("SILO_SMALL_DISK_HELPER")
	if dir == "" {
		t.Skip("helper process only")
	}
	var args []string
	for i, a := range os.Args {
		if strings.HasPrefix(a, "-test.run=") {
			args = os.Args[i+1:]
		}
	}
	r := runSilo(t, "", args...)
	var left []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) == 0 {
		left = []string{"none"}
	}
	fmt.Fprintf(os.Stderr, "%sexit %d\nleft: %s\n", r.stderr, r.code, strings.Join(left, " "))
	os.Exit(0)
}
