package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Seed 004's local commands: images, inspect (the JSON shape of the
// seed, with the server's metadata), get; and add, rm, rmi, mv.
func TestCatalogueCommands(t *testing.T) {
	e := newLibEnv(t)
	tacos := metaSIF(t, map[string]string{"MAINTAINER": "vanessasaur", "WHATAMI": "dinosaur"}, "#!/bin/sh \n\nexec /bin/bash /rawr.sh\n")
	sum := sha256File(t, tacos)
	e.push(tacos, "vanessa/tacos:latest")
	path := e.storage("vanessa", "tacos", "latest", sum)
	e.mustRun("", "pull", "vanessa/tacos:latest")
	vars := map[string]string{"HOST": e.srv.Host, "CFG": e.cfg, "V": sum}

	r := e.mustRun("", "inspect", "vanessa/tacos:latest")
	golden(t, "inspect", r.stdout, vars)
	var view map[string]any
	if err := json.Unmarshal([]byte(strings.SplitN(r.stdout, "\n", 3)[2]), &view); err != nil {
		t.Fatal(err)
	}
	md := view["metrics"].(map[string]any)["metadata"].(map[string]any)
	if md["runscript"] != "#!/bin/sh \n\nexec /bin/bash /rawr.sh\n" || !strings.Contains(md["deffile"].(string), "Bootstrap: docker") ||
		!strings.Contains(md["environment"].(string), "90-environment.sh") || md["labels"].(map[string]any)["WHATAMI"] != "dinosaur" {
		t.Errorf("metadata: %v", md)
	}
	r = e.mustRun("", "inspect", "--json", "vanessa/tacos:latest@"+sum[:10])
	golden(t, "inspect-json", r.stdout, vars)
	e.mustRun("", "get", "vanessa/tacos").expectOut(t, path+"\n")

	// add: adopt a local file (moved, or copied with --copy).
	other := makeSIF(t, "amd64", 8<<10, 41)
	osum := sha256File(t, other)
	vars["O"] = osum
	e.mustRun("", "add", "--copy", other, "--name", "milkshakes/pudding:banana").expectOut(t, "[container][new] milkshakes/pudding:banana\n")
	if !exists(other) {
		t.Error("--copy moved the file")
	}
	e.mustRun("", "add", other, "--name", "milkshakes/pudding:banana").expectOut(t, "[container][update] milkshakes/pudding:banana\n")
	if exists(other) {
		t.Error("add did not move the file")
	}
	added := e.storage("milkshakes", "pudding", "banana", osum)
	e.mustRun("", "get", "milkshakes/pudding:banana").expectOut(t, added+"\n")
	e.run("", "add", added).expectFatal(t, "you must provide an image name: --name collection/container[:tag]")

	golden(t, "images-catalogue", e.mustRun("", "images").stdout, vars)
	golden(t, "images-query", e.mustRun("", "images", "banana").stdout, vars)
	r = e.mustRun("", "images", "--json", "pudding")
	if !strings.Contains(r.stdout, `"uri": "milkshakes/pudding:banana"`) || !strings.Contains(r.stdout, `"client": "local"`) {
		t.Errorf("images --json:\n%s", r.stdout)
	}

	// mv: into a directory, then to a file name.
	dir := t.TempDir()
	e.mustRun("", "mv", "milkshakes/pudding:banana", dir).expect(t, 0,
		"INFO:    [move] "+filepath.Base(added)+" => "+filepath.Join(dir, filepath.Base(added))+"\n")
	e.mustRun("", "mv", "milkshakes/pudding:banana", filepath.Join(dir, "p.sif"))
	e.mustRun("", "get", "milkshakes/pudding:banana").expectOut(t, filepath.Join(dir, "p.sif")+"\n")
	e.run("", "mv", "milkshakes/pudding:banana", filepath.Join(dir, "no", "p.sif")).expectFatal(t, filepath.Join(dir, "no")+" does not exist")

	// rm forgets and keeps the file; rmi forgets and deletes it.
	e.mustRun("", "rm", "milkshakes/pudding:banana").expect(t, 0, "INFO:    [rm] milkshakes/pudding:banana@"+osum+"\n")
	if !exists(filepath.Join(dir, "p.sif")) {
		t.Error("rm deleted the file")
	}
	e.run("", "get", "milkshakes/pudding:banana").expectFatal(t, "image milkshakes/pudding:banana was not found in the local catalogue")
	e.mustRun("", "rmi", "vanessa/tacos:latest").expect(t, 0, "INFO:    [rmi] vanessa/tacos:latest@"+sum+"\n")
	if exists(path) {
		t.Error("rmi kept the file")
	}
	e.mustRun("", "images").expectOut(t, "")
}

// A file deleted outside silo is noticed and reported, never crashed on.
func TestCatalogueMissingFile(t *testing.T) {
	e := newLibEnv(t)
	img := makeSIF(t, "amd64", 8<<10, 42)
	sum := sha256File(t, img)
	e.push(img, "dino/rex:v1")
	e.mustRun("", "pull", "dino/rex:v1")
	path := e.storage("dino", "rex", "v1", sum)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	gone := "dino/rex:v1@" + sum + ": its file " + path + " is gone (deleted outside silo?): pull it again, or forget it with `silo rm dino/rex:v1@" + sum + "`\n"
	r := e.mustRun("", "images")
	r.expect(t, 0, "WARNING: "+gone)
	e.run("", "get", "dino/rex:v1").expectFatal(t, "the file of dino/rex:v1@"+sum+", "+path+", is gone (deleted outside silo?)")
	r = e.mustRun("", "inspect", "dino/rex:v1")
	r.expect(t, 0, "WARNING: "+gone)
	e.run("", "mv", "dino/rex:v1", t.TempDir()).expectFatalAfter(t, "WARNING: "+gone, "no file to move for dino/rex:v1@"+sum)
	// A pull brings it back (the same version: an update).
	e.mustRun("", "pull", "dino/rex:v1").expectOut(t, "[container][update] dino/rex:v1\nSuccess! "+path+"\n")
	sameFile(t, path, img)
	os.Remove(path)
	e.mustRun("", "rmi", "dino/rex:v1").expect(t, 0, "INFO:    [rmi] dino/rex:v1@"+sum+"\nWARNING: image file "+path+" does not exist on the file system!\n")
	e.mustRun("", "images").expectOut(t, "")
}
