package ociapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/memory"

	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/sifinspect/sifinspecttest"
)

// A SIF built as Singularity builds it, pushed with oras-go, is read at
// push time: the Library API's inspection shows its definition file,
// runscript and labels, and the labels are listed.
func TestORASPushIsInspected(t *testing.T) {
	e := newEnv(t)
	pass, tok := e.user("alice", meta.RoleUser)
	root := t.TempDir()
	sifinspecttest.Singularity().Write(t, root)
	img := sifinspecttest.SIF(t, sifinspecttest.Squash(t, root, "gzip"), sifinspecttest.SIFOptions{
		Deffile: sifinspecttest.Deffile, Labels: map[string]string{"org.example.pushed-with": "oras"}})
	ctx := context.Background()
	src := memory.New()
	mdesc, _ := sifArtifact(t, src, img, "app.sif")
	if err := src.Tag(ctx, mdesc, "v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := oras.Copy(ctx, src, "v1", e.orasRepo("alice/apps/app", "alice", pass), "v1", oras.DefaultCopyOptions); err != nil {
		t.Fatal(err)
	}
	_, body := e.must(http.StatusOK, req{method: "GET", path: "/v1/inspect/alice/apps/app:v1", bearer: tok})
	var got struct {
		Data struct {
			Inspection struct {
				Deffile   string            `json:"deffile"`
				Runscript string            `json:"runscript"`
				Labels    map[string]string `json:"labels"`
			} `json:"inspection"`
			Labels map[string]string `json:"labels"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	in := got.Data.Inspection
	if in.Deffile != sifinspecttest.Deffile || in.Runscript != sifinspecttest.Singularity().Files["/.singularity.d/runscript"] {
		t.Fatalf("inspection %+v", in)
	}
	if in.Labels["org.example.pushed-with"] != "oras" || got.Data.Labels["org.example.pushed-with"] != "oras" ||
		got.Data.Labels["Maintainer"] != "hpc@example.org" {
		t.Fatalf("labels %v / %v", in.Labels, got.Data.Labels)
	}
	_, body = e.must(http.StatusOK, req{method: "GET", path: "/v1/labels?key=org.example.pushed-with", user: "-"})
	var rows struct {
		Data []struct{ Key, Value, Container string }
	}
	if err := json.Unmarshal(body, &rows); err != nil || len(rows.Data) != 1 || rows.Data[0].Container != "alice/apps/app" {
		t.Fatalf("labels listing %s (%v)", body, err)
	}
}

// A SIF artifact whose layer is not a SIF is refused with MANIFEST_INVALID
// when pushed to a library container, and no tag is made.
func TestORASPushOfNonSIFRefused(t *testing.T) {
	e := newEnv(t)
	pass, _ := e.user("alice", meta.RoleUser)
	as := asUser("alice", pass)
	m := rawSIFArtifact(e, as, "alice/apps/fake", []byte("#!/bin/sh\necho not a SIF\n"), 25)
	resp, body := e.do(as(req{method: "PUT", path: "/v2/alice/apps/fake/manifests/v1", body: []byte(m), header: map[string]string{"Content-Type": ociManifest}}))
	if resp.StatusCode != http.StatusBadRequest || ociErrorCode(t, body) != "MANIFEST_INVALID" {
		t.Fatalf("push: %d %s", resp.StatusCode, body)
	}
	e.must(http.StatusNotFound, as(req{method: "HEAD", path: "/v2/alice/apps/fake/manifests/v1"}))
}
