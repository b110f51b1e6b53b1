package libraryapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/sifinspect"
	"github.com/silo-hpc/silo/internal/sifinspect/sifinspecttest"
	"github.com/silo-hpc/silo/internal/sifinspect/signedtest"
)

// builtSIF makes a SIF as `singularity build` lays it out (a real
// mksquashfs of a /.singularity.d tree, compressed with comp; a definition
// file object; a labels object), signed when sign is set, and writes it
// to a file.
func builtSIF(t *testing.T, comp string, sign bool) (string, []byte) {
	t.Helper()
	root := t.TempDir()
	sifinspecttest.Singularity().Write(t, root)
	img := sifinspecttest.SIF(t, sifinspecttest.Squash(t, root, comp), sifinspecttest.SIFOptions{
		Deffile: sifinspecttest.Deffile, Labels: map[string]string{"org.example.owner": "alice", "Version": "1.2.4"}})
	if sign {
		img = signedtest.Sign(t, img, signedtest.NewEntity(t))
	}
	path := filepath.Join(t.TempDir(), comp+".sif")
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, img
}

// inspectAnswer is GET /v1/inspect's data.
type inspectAnswer struct {
	Image struct {
		Signed       bool     `json:"signed"`
		Fingerprints []string `json:"fingerprints"`
		Arch         string   `json:"arch"`
	} `json:"image"`
	Inspection sifinspect.Inspection `json:"inspection"`
	Labels     map[string]string     `json:"labels"`
}

// checkInspection compares what the server read with what was built.
func checkInspection(t *testing.T, got inspectAnswer, signed bool) {
	t.Helper()
	in := got.Inspection
	tree := sifinspecttest.Singularity()
	if in.Deffile != sifinspecttest.Deffile || in.DefinitionBuilt != tree.Files["/.singularity.d/Singularity"] {
		t.Errorf("definition files %q / %q", in.Deffile, in.DefinitionBuilt)
	}
	for field, want := range map[string]string{"runscript": in.Runscript, "startscript": in.Startscript, "test": in.Test} {
		if tree.Files["/.singularity.d/"+field] != want {
			t.Errorf("%s = %q", field, want)
		}
	}
	if len(in.Environment) != len(sifinspecttest.EnvFiles()) {
		t.Fatalf("environment %+v", in.Environment)
	}
	for i, name := range sifinspecttest.EnvFiles() {
		if in.Environment[i].Name != name || in.Environment[i].Content != sifinspecttest.EnvContent(i, name) {
			t.Errorf("env file %d: %+v", i, in.Environment[i])
		}
	}
	if in.Header.Arch != "amd64" || in.Header.PrimaryFS != "Squashfs" || len(in.Partitions) == 0 {
		t.Errorf("header %+v, partitions %+v", in.Header, in.Partitions)
	}
	// The SIF labels object wins over labels.json for the same key.
	for k, v := range map[string]string{"Maintainer": "hpc@example.org", "Version": "1.2.4", "org.example.owner": "alice"} {
		if in.Labels[k] != v || got.Labels[k] != v {
			t.Errorf("label %s = %q (inspection), %q (stored), want %q", k, in.Labels[k], got.Labels[k], v)
		}
	}
	if in.Signed != signed || got.Image.Signed != signed || (signed && (len(in.Signatures) == 0 || len(got.Image.Fingerprints) == 0)) {
		t.Errorf("signed %v/%v, signatures %+v, fingerprints %v", in.Signed, got.Image.Signed, in.Signatures, got.Image.Fingerprints)
	}
	if signed && in.Signatures[0].Fingerprint != got.Image.Fingerprints[0] {
		t.Errorf("fingerprint %s vs %s", in.Signatures[0].Fingerprint, got.Image.Fingerprints[0])
	}
}

// SIFs built as Singularity builds them, pushed through the Library API
// with the real client, are read back field by field: gzip, xz and zstd
// partitions, signed and unsigned.
func TestInspectLibraryPush(t *testing.T) {
	e := newEnv(t)
	alice := e.client("alice")
	for _, tc := range []struct {
		comp   string
		signed bool
	}{{"gzip", false}, {"xz", true}, {"zstd", false}} {
		path, _ := builtSIF(t, tc.comp, tc.signed)
		ref := "alice/built/" + tc.comp
		alice.mustPush(t, path, ref, "amd64", "latest")
		var got inspectAnswer
		if st, b := e.doJSON("GET", "/v1/inspect/"+ref+":latest", e.tokens["alice"], nil, &got); st != http.StatusOK {
			t.Fatalf("%s: inspect %d %s", tc.comp, st, b)
		}
		checkInspection(t, got, tc.signed)
		var img struct {
			Signed bool   `json:"signed"`
			Arch   string `json:"arch"`
		}
		e.doJSON("GET", "/v1/images/"+ref+":latest?arch=amd64", "", nil, &img)
		if img.Signed != tc.signed || img.Arch != "amd64" {
			t.Errorf("%s: image JSON %+v", tc.comp, img)
		}
	}
}

// Labels are listed across the registry by key and value, with the
// containers carrying them, and a private collection's stay private.
func TestLabelListing(t *testing.T) {
	e := newEnv(t)
	alice := e.client("alice")
	path, _ := builtSIF(t, "gzip", false)
	alice.mustPush(t, path, "alice/open/app", "amd64", "latest")
	alice.mustPush(t, path, "alice/hidden/app", "amd64", "latest")
	var col struct{ ID string }
	e.doJSON("GET", "/v1/collections/alice/hidden", e.tokens["alice"], nil, &col)
	if st, b := e.doJSON("PUT", "/v1/collections/"+col.ID, e.tokens["alice"], `{"private":true}`, nil); st != http.StatusOK {
		t.Fatalf("make private: %d %s", st, b)
	}
	type row struct{ Key, Value, Container string }
	list := func(token, query string) []row {
		var out []row
		if st, b := e.doJSON("GET", "/v1/labels?"+query, token, nil, &out); st != http.StatusOK {
			t.Fatalf("labels: %d %s", st, b)
		}
		return out
	}
	if got := list("", "key=org.example.owner"); len(got) != 1 || got[0].Container != "alice/open/app" || got[0].Value != "alice" {
		t.Fatalf("anonymous: %+v", got)
	}
	if got := list(e.tokens["bob"], "key=Version&value=1.2.4"); len(got) != 1 {
		t.Fatalf("bob: %+v", got)
	}
	if got := list(e.tokens["alice"], "key=org.example.owner"); len(got) != 2 {
		t.Fatalf("alice: %+v", got)
	}
	if got := list(e.tokens["alice"], "value=nope"); len(got) != 0 {
		t.Fatalf("no such value: %+v", got)
	}
}

// A Library upload that is not a SIF is refused, and no image is made.
func TestLibraryRefusesNonSIF(t *testing.T) {
	e := newEnv(t)
	data := []byte("#!/bin/sh\necho this is not a SIF\n")
	_, img := e.rawImage("notsif", "app", hashOf(data))
	st, b := e.do("POST", "/v1/imagefile/"+img, e.tokens["alice"], strings.NewReader(string(data)))
	if msg := wantError(t, st, b, http.StatusBadRequest); !strings.Contains(msg, "not a SIF") {
		t.Fatalf("message %q", msg)
	}
	e.wantNotUploaded("notsif", "app", hashOf(data))
}

// Images stored before the server read SIF metadata are inspected by the
// backfill, so nothing has to be pushed again.
func TestBackfill(t *testing.T) {
	e := newEnv(t)
	alice := e.client("alice")
	path, sifBytes := builtSIF(t, "gzip", false)
	alice.mustPush(t, path, "alice/old/app", "amd64", "latest")
	ctx := context.Background()
	// A second image whose blob is gone: the backfill reports it and
	// goes on past it.
	lostPath, lostBytes := builtSIF(t, "xz", false)
	alice.mustPush(t, lostPath, "alice/old/lost", "amd64", "latest")
	// Forget the inspections, as a database from before them would.
	for _, b := range [][]byte{sifBytes, lostBytes} {
		d := "sha256:" + strings.TrimPrefix(hashOf(b), "sha256.")
		if err := e.srv.Meta.PutInspection(ctx, &meta.Inspection{Digest: d, Version: 0, JSON: "{}"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.srv.Blobs.Delete(ctx, digest.Digest("sha256:"+strings.TrimPrefix(hashOf(lostBytes), "sha256."))); err != nil {
		t.Fatal(err)
	}
	n, err := e.srv.Library.Backfill(ctx)
	if err != nil || n != 1 {
		t.Fatalf("backfill %d %v", n, err)
	}
	var got inspectAnswer
	e.doJSON("GET", "/v1/inspect/alice/old/app:latest", e.tokens["alice"], nil, &got)
	checkInspection(t, got, false)
	if n, err := e.srv.Library.Backfill(ctx); err != nil || n != 0 {
		t.Fatalf("second backfill %d %v", n, err)
	}
}

// GET /v1/search?label= finds images by the labels read from their SIFs,
// alone or with a value, keeping privacy; bad label filters are 400.
func TestSearchByLabel(t *testing.T) {
	e := newEnv(t)
	alice := e.client("alice")
	path, _ := builtSIF(t, "gzip", false)
	alice.mustPush(t, path, "alice/open/app", "amd64", "latest")
	alice.mustPush(t, path, "alice/hidden/app", "amd64", "latest")
	var col struct{ ID string }
	e.doJSON("GET", "/v1/collections/alice/hidden", e.tokens["alice"], nil, &col)
	e.doJSON("PUT", "/v1/collections/"+col.ID, e.tokens["alice"], `{"private":true}`, nil)
	type result struct {
		Entity, Collection, Container []json.RawMessage
		Image                         []struct{ CollectionName, ContainerName string }
	}
	search := func(token, query string) result {
		t.Helper()
		var out result
		if st, b := e.doJSON("GET", "/v1/search?"+query, token, nil, &out); st != http.StatusOK {
			t.Fatalf("search %s: %d %s", query, st, b)
		}
		return out
	}
	if got := search("", "label=org.example.owner"); len(got.Image) != 1 || got.Image[0].CollectionName != "open" ||
		len(got.Entity)+len(got.Collection)+len(got.Container) != 0 {
		t.Fatalf("anonymous by key: %+v", got)
	}
	if got := search(e.tokens["alice"], "label=org.example.owner=alice"); len(got.Image) != 2 {
		t.Fatalf("owner by key and value: %+v", got)
	}
	if got := search(e.tokens["alice"], "label=org.example.owner=bob"); len(got.Image) != 0 {
		t.Fatalf("other value: %+v", got)
	}
	if got := search(e.tokens["alice"], "value=open&label=Version=1.2.4"); len(got.Image) != 1 || len(got.Collection) != 1 {
		t.Fatalf("text and label: %+v", got)
	}
	for _, q := range []string{"label==x", "label=", "value=op&label=Version"} {
		st, b := e.do("GET", "/v1/search?"+q, "", nil)
		wantError(t, st, b, http.StatusBadRequest)
	}
}
