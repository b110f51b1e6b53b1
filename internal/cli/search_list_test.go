package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/keyserver/keyservertest"
	"github.com/silo-hpc/silo/internal/sifinspect/sifinspecttest"
	"github.com/silo-hpc/silo/internal/sifinspect/signedtest"
)

// metaSIF builds a SIF as `singularity build` lays it out (a real
// squashfs from mksquashfs), with labels.json, a runscript, a test, the
// environment files and the definition file, for the server to inspect.
func metaSIF(t *testing.T, labels map[string]string, runscript string) string {
	t.Helper()
	im := sifinspecttest.Singularity()
	b, err := json.Marshal(labels)
	if err != nil {
		t.Fatal(err)
	}
	im.Files["/.singularity.d/labels.json"] = string(b)
	im.Files["/.singularity.d/runscript"] = runscript
	dir := t.TempDir()
	im.Write(t, dir)
	img := sifinspecttest.SIF(t, sifinspecttest.Squash(t, dir, "gzip"), sifinspecttest.SIFOptions{Deffile: sifinspecttest.Deffile})
	path := filepath.Join(t.TempDir(), "meta.sif")
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// seedRegistry pushes seed 003's example images: alice's dinosaur/tacos
// and dinosaur/avocado (two tags, one of them arm64), meowmeow/avocado,
// and bob's meowmeow/avocado; one image is signed, by a key the server
// holds.
func seedRegistry(t *testing.T, e *libEnv) map[string]string {
	tacos := metaSIF(t, map[string]string{"MAINTAINER": "vanessasaur", "WHATAMI": "dinosaur"}, "#!/bin/sh\n\nexec /bin/bash /rawr.sh\n")
	avocado := metaSIF(t, map[string]string{"MAINTAINER": "vanessasaur", "WHATAMI": "avocado"}, "#!/bin/sh\necho avocado\n")
	arm := makeSIF(t, "arm64", 8<<10, 31)
	b, err := os.ReadFile(makeSIF(t, "amd64", 8<<10, 32))
	if err != nil {
		t.Fatal(err)
	}
	// Signed by a key the server's keyserver holds: verified.
	key := signedtest.NewEntity(t)
	keyservertest.Push(t, e.srv.URL, e.tokens["alice"], key)
	signed := filepath.Join(t.TempDir(), "signed.sif")
	if err := os.WriteFile(signed, signedtest.Sign(t, b, key), 0o644); err != nil {
		t.Fatal(err)
	}
	e.push(tacos, "dinosaur/tacos:delicious")
	e.push(avocado, "dinosaur/avocado:delicious")
	e.push(avocado, "dinosaur/avocado:whatinthe")
	e.push(arm, "dinosaur/avocado:arm")
	e.push(avocado, "meowmeow/avocado:nomnomnom")
	e.push(signed, "dinosaur/sealed:latest")
	e.login("bob")
	e.push(tacos, "meowmeow/avocado:bobs")
	e.login("alice")
	return map[string]string{"HOST": e.srv.Host, "TACOS": sha256File(t, tacos), "AVOCADO": sha256File(t, avocado),
		"ARM": sha256File(t, arm), "SIGNED": sha256File(t, signed)}
}

// Seed 004's search shapes ("Collections" rows of name:tag and URL,
// "Containers" rows of name, tag and date) and the filters.
func TestSearch(t *testing.T) {
	e := newLibEnv(t)
	vars := seedRegistry(t, e)
	for _, c := range []struct {
		golden string
		args   []string
	}{
		{"search-all", []string{"search"}},
		{"search-container", []string{"search", "dinosaur/avocado"}},
		{"search-container-tag", []string{"search", "dinosaur/avocado:whatinthe"}},
		{"search-other-entity", []string{"search", "bob/meowmeow/avocado"}},
		{"search-word", []string{"search", "avocado"}},
		{"search-arch", []string{"search", "--arch", "arm64"}},
		{"search-word-arch", []string{"search", "--arch", "arm64", "avo"}},
		{"search-signed", []string{"search", "--signed"}},
		{"search-none", []string{"search", "nothing-like-this"}},
		{"search-json", []string{"search", "--json", "dinosaur/tacos"}},
		{"search-label", []string{"search", "--label", "WHATAMI=dinosaur"}},
		{"search-label-key", []string{"search", "--label", "WHATAMI"}},
		{"search-label-word", []string{"search", "--label", "MAINTAINER=vanessasaur", "meow"}},
	} {
		r := e.mustRun("", c.args...)
		golden(t, c.golden, r.stdout+r.stderr, vars)
	}
	e.login("")
	golden(t, "search-anonymous", e.mustRun("", "search").stdout, vars)
}

// Seed 003's list forms, and the metadata the server read from the SIFs.
func TestList(t *testing.T) {
	e := newLibEnv(t)
	vars := seedRegistry(t, e)
	for _, c := range []struct {
		golden string
		args   []string
	}{
		{"list-all", []string{"list"}},
		{"list-collection", []string{"list", "dinosaur"}},
		{"list-across", []string{"list", "/avocado"}},
		{"list-container", []string{"list", "dinosaur/avocado"}},
		{"list-tag", []string{"list", "dinosaur/tacos:delicious"}},
		{"list-env", []string{"list", "dinosaur/tacos:delicious", "--env"}},
		{"list-env-runscript", []string{"list", "dinosaur/tacos:delicious", "-e", "-r"}},
		{"list-deffile-test", []string{"list", "dinosaur/tacos:delicious", "-d", "-t"}},
		{"list-all-metadata", []string{"list", "dinosaur/tacos:delicious", "-e", "-r", "-d", "-t"}},
		{"list-json", []string{"list", "--json", "-r", "dinosaur/tacos:delicious"}},
		{"list-none", []string{"list", "/nothing"}},
	} {
		r := e.mustRun("", c.args...)
		golden(t, c.golden, r.stdout+r.stderr, vars)
	}
	e.run("", "list", "nothing").expectFatal(t, "nothing not found")
}

// Seed 003's labels forms: all labels, by key, by value, by both.
func TestLabels(t *testing.T) {
	e := newLibEnv(t)
	vars := seedRegistry(t, e)
	for _, c := range []struct {
		golden string
		args   []string
	}{
		{"labels-all", []string{"labels"}},
		{"labels-key", []string{"labels", "--key", "MAINTAINER"}},
		{"labels-value", []string{"labels", "--value", "vanessasaur"}},
		{"labels-key-value", []string{"labels", "-k", "WHATAMI", "-v", "dinosaur"}},
		{"labels-none", []string{"labels", "--key", "nothing"}},
		{"labels-json", []string{"labels", "--json", "--key", "WHATAMI"}},
	} {
		r := e.mustRun("", c.args...)
		golden(t, c.golden, r.stdout+r.stderr, vars)
	}
}

// Seed 003's delete: yes/no asked, --force skips it; a frozen container's
// tagged image is refused with the server's message.
func TestDelete(t *testing.T) {
	e := newLibEnv(t)
	img := makeSIF(t, "amd64", 8<<10, 33)
	e.push(img, "dinosaur/tacos:delicious")
	e.push(img, "dinosaur/tacos:other")
	e.push(makeSIF(t, "amd64", 8<<10, 34), "dinosaur/tacos:third")
	ask := "Are you sure you want to remove dinosaur/tacos:delicious? \n"
	e.mustRun("no\n", "delete", "dinosaur/tacos:delicious").expect(t, 0, ask+"INFO:    Delete cancelled.\n")
	e.mustRun("", "delete", "dinosaur/tacos:delicious").expect(t, 0, ask+"INFO:    Delete cancelled.\n") // end of input
	if e.imageHash("alice/dinosaur/tacos", "delicious") != sha256File(t, img) {
		t.Fatal("a cancelled delete deleted")
	}
	e.mustRun("what\nyes\n", "delete", "dinosaur/tacos:delicious").expect(t, 0, ask+"Please answer yes or no: \n"+
		"INFO:    Image library://"+e.srv.Host+"/alice/dinosaur/tacos:delicious deleted.\n")
	if got := e.imageHash("alice/dinosaur/tacos", "other"); got != "<404>" {
		t.Errorf("the image's other tag: %s", got)
	}
	e.mustRun("", "delete", "--force", "dinosaur/tacos:third").expect(t, 0,
		"INFO:    Image library://"+e.srv.Host+"/alice/dinosaur/tacos:third deleted.\n")
	e.run("", "delete", "-f", "dinosaur/tacos:third").expectFatal(t,
		"Unable to delete image: library://"+e.srv.Host+"/alice/dinosaur/tacos:third (amd64) not found")

	e.push(img, "dinosaur/frozen:v1")
	e.freeze("alice", "alice/dinosaur/frozen")
	r := e.run("", "delete", "--force", "dinosaur/frozen:v1")
	r.expectFatal(t, "Unable to delete image: permission denied: container alice/dinosaur/frozen is frozen")
	e.login("bob")
	e.run("", "delete", "--force", "alice/dinosaur/frozen:v1").expectFatal(t, "Unable to delete image: permission denied")
	e.run("", "delete", "oras://h/a/b").expectFatal(t, "delete works on library images, not oras://")
	if !strings.Contains(e.mustRun("", "list", "alice/dinosaur/frozen").stdout, "frozen  v1") {
		t.Error("the frozen image is gone")
	}
}
