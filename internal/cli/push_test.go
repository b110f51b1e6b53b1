package cli

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/sifinspect/signedtest"
)

// imageHash is what the server says alice's path:tag is.
func (e *libEnv) imageHash(path, tag string) string {
	e.t.Helper()
	var img struct{ Hash string }
	if st := e.api("GET", "/v1/images/"+path+":"+tag+"?arch=amd64", "alice", "", &img); st != http.StatusOK {
		return fmt.Sprintf("<%d>", st)
	}
	return strings.TrimPrefix(img.Hash, "sha256.")
}

// Seed 003's `singularity push` form and seed 004's `--name` forms land
// in the same library; the server creates the collection.
func TestPushForms(t *testing.T) {
	e := newLibEnv(t)
	img := makeSIF(t, "amd64", 32<<10, 21)
	sum := sha256File(t, img)
	warn := "WARNING: Skipping container verification\n"
	r := e.mustRun("", "push", "-U", img, "library://"+e.srv.Host+"/alice/dino/rex:v1")
	r.expect(t, 0, warn)
	if r.stdout != "[Return status 200 OK]\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	e.mustRun("", "push", "-U", img, "--name", "dino/rex", "--tag", "t2").expect(t, 0, warn)
	e.mustRun("", "push", "-U", img, "--name", "registry://milkshakes/pudding:banana").expect(t, 0, warn)
	e.mustRun("", "push", "-U", img, "--name", "milkshakes/pudding").expect(t, 0, warn)
	e.mustRun("", "push", "-U", "--description", "two tags", img, "dino/rex:a,b").expect(t, 0, warn)
	for _, pt := range [][2]string{{"alice/dino/rex", "v1"}, {"alice/dino/rex", "t2"}, {"alice/milkshakes/pudding", "banana"},
		{"alice/milkshakes/pudding", "latest"}, {"alice/dino/rex", "a"}, {"alice/dino/rex", "b"}} {
		if got := e.imageHash(pt[0], pt[1]); got != sum {
			t.Errorf("%s:%s is %s, want %s", pt[0], pt[1], got, sum)
		}
	}

	e.run("", "push", img).expectFatal(t, "no destination: give a URI (library://...) or --name collection/container[:tag]")
	e.run("", "push", "-U", img, "dino/rex", "--name", "dino/rex").expectFatal(t, "give the destination once")
	e.run("", "push", "-U", img, "shub://h/a/b").expectFatal(t, "push to shub:// is not supported")
	e.run("", "push", img, "dino/rex:v9").expectFatal(t, "Unable to push image: "+img+" is not signed: sign it with `singularity sign`, or push it unsigned with -U")
	notSIF := filepath.Join(t.TempDir(), "x.sif")
	writeFile(t, notSIF, "#!/bin/sh\n")
	e.run("", "push", "-U", notSIF, "dino/rex:v9").expectFatal(t, "Unable to push image: "+notSIF+" is not a SIF image: ")
	e.run("", "push", "-U", filepath.Join(t.TempDir(), "nope.sif"), "dino/rex:v9").expectFatal(t, "Unable to push image: stat ")

	// A signed image needs no -U and gets no warning.
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	signed := filepath.Join(t.TempDir(), "signed.sif")
	if err := os.WriteFile(signed, signedtest.Sign(t, b, signedtest.NewEntity(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	e.mustRun("", "push", signed, "dino/rex:signed").expect(t, 0, "")
	if got := e.imageHash("alice/dino/rex", "signed"); got != sha256File(t, signed) {
		t.Errorf("signed push: %s", got)
	}

	e.login("")
	e.run("", "push", signed, "dino/rex:v9").expectFatal(t, "Unable to push image: no authentication token: log in with `silo remote login`")
}

// Seed 003's push logic: an existing tag of an unfrozen container is
// replaced; of a frozen one it is refused with the server's "permission
// denied", shown as one FATAL line; new tags are still accepted. Others
// may not push to alice's collection.
func TestPushFrozenAndOwners(t *testing.T) {
	e := newLibEnv(t)
	v1, v2 := makeSIF(t, "amd64", 16<<10, 22), makeSIF(t, "amd64", 16<<10, 23)
	e.push(v1, "dino/rex:latest")
	e.push(v2, "dino/rex:latest")
	if got := e.imageHash("alice/dino/rex", "latest"); got != sha256File(t, v2) {
		t.Fatalf("unfrozen tag not replaced: %s", got)
	}
	e.freeze("alice", "alice/dino/rex")
	e.run("", "push", "-U", v1, "dino/rex:latest").expectFatalAfter(t, "WARNING: Skipping container verification\n",
		`Unable to push image: permission denied: container alice/dino/rex is frozen; tag "latest" cannot be changed`)
	if got := e.imageHash("alice/dino/rex", "latest"); got != sha256File(t, v2) {
		t.Errorf("frozen tag moved to %s", got)
	}
	e.push(v1, "dino/rex:new")

	e.login("bob")
	e.run("", "push", "-U", v1, "alice/dino/rex:bob").expectFatalAfter(t, "WARNING: Skipping container verification\n",
		"Unable to push image: permission denied: only the owner of collection alice/dino may change it")
}

// A file over 64 MiB goes up in parts (the server's part size) and comes
// back byte for byte.
func TestPushMultipart(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("a 65 MiB push: not with -short or -race")
	}
	e := newLibEnv(t)
	img := makeSIF(t, "amd64", 65<<20, 24)
	var log requestLog
	wrapTransfers(t, func(req *http.Request, next http.RoundTripper) (*http.Response, error) {
		log.add(req)
		return next.RoundTrip(req)
	})
	e.push(img, "dino/big:v1")
	if parts := log.matching("PUT /v2/_upload/"); len(parts) != 2 || len(log.matching("PUT /v2/imagefile/")) < 3 {
		t.Errorf("upload requests: %q", log.matching("PUT"))
	}
	e.mustRun("", "pull", "dino/big:v1")
	sameFile(t, e.storage("dino", "big", "v1", sha256File(t, img)), img)
}
