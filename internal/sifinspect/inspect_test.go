package sifinspect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/silo-hpc/silo/internal/sifinspect/sifinspecttest"
)

func inspect(t testing.TB, img []byte, opts Options) *Inspection {
	t.Helper()
	ins, err := Inspect(context.Background(), bytes.NewReader(img), int64(len(img)), opts)
	if err != nil {
		t.Fatal(err)
	}
	return ins
}

// sifLabels is the SIF labels object the test images carry: one label
// overrides labels.json, one is new.
func sifLabels() map[string]string {
	return map[string]string{"Version": "1.2.4", "org.silo.pushed-by": "ci"}
}

// want is the inspection of sifinspecttest.Singularity() squashed with comp
// into a SIF made with the test's options. (Signed images: package
// signedtest.)
func want(squash []byte, comp string) *Inspection {
	im := sifinspecttest.Singularity()
	created := sifinspecttest.Created()
	ins := &Inspection{
		Header: Header{
			ID: sifinspecttest.ID, Arch: "amd64", Created: created, Modified: created, Version: "01",
			PrimaryFS: "Squashfs", PrimaryArch: "amd64", PrimarySize: int64(len(squash)), PrimaryCompression: comp,
		},
		Partitions: []Partition{{ID: 4, Type: "*System", FS: "Squashfs", Arch: "amd64", Size: int64(len(squash))}},
		Objects: []Object{
			{ID: 1, Type: "Def.FILE", Group: 1, Size: int64(len(sifinspecttest.Deffile))},
			{ID: 2, Type: "JSON.Labels", Group: 1, Size: int64(len(`{"Version":"1.2.4","org.silo.pushed-by":"ci"}`))},
			{ID: 3, Type: "JSON.Generic", Group: 1, Size: 2},
			{ID: 4, Type: "FS", Group: 1, Size: int64(len(squash))},
		},
		Signatures:      []Signature{},
		Deffile:         sifinspecttest.Deffile,
		DefinitionBuilt: im.Files["/.singularity.d/Singularity"],
		SIFLabels:       sifLabels(),
		ImageLabels: map[string]string{
			"Maintainer": "hpc@example.org", "Version": "1.2.3",
			"org.label-schema.build-arch": "amd64", "org.label-schema.schema-version": "1.0",
		},
		Runscript:   im.Files["/.singularity.d/runscript"],
		Startscript: im.Files["/.singularity.d/startscript"],
		Test:        im.Files["/.singularity.d/test"],
	}
	ins.Labels = map[string]string{}
	for k, v := range ins.ImageLabels {
		ins.Labels[k] = v
	}
	for k, v := range ins.SIFLabels {
		ins.Labels[k] = v
	}
	for _, name := range sifinspecttest.EnvFiles() {
		ins.Environment = append(ins.Environment, EnvFile{Name: name, Content: im.Files["/.singularity.d/env/"+name]})
	}
	return ins
}

func TestInspectReadsEveryField(t *testing.T) {
	dir := t.TempDir()
	sifinspecttest.Singularity().Write(t, dir)
	for _, comp := range []string{"gzip", "xz", "zstd", "lz4", "lzo"} {
		t.Run(comp, func(t *testing.T) {
			squash := sifinspecttest.Squash(t, dir, comp)
			o := sifinspecttest.SIFOptions{Deffile: sifinspecttest.Deffile, Labels: sifLabels(), JSON: "{}"}
			got := inspect(t, sifinspecttest.SIF(t, squash, o), Options{})
			if w := want(squash, comp); !reflect.DeepEqual(got, w) {
				g, _ := json.MarshalIndent(got, "", "  ")
				e, _ := json.MarshalIndent(w, "", "  ")
				t.Errorf("inspection differs\ngot:  %s\nwant: %s", g, e)
			}
		})
	}
}

func TestInspectJSONRoundTrip(t *testing.T) {
	dir := t.TempDir()
	sifinspecttest.Singularity().Write(t, dir)
	img := sifinspecttest.SIF(t, sifinspecttest.Squash(t, dir, "gzip"), sifinspecttest.SIFOptions{Deffile: "x"})
	ins := inspect(t, img, Options{})
	b, err := json.Marshal(ins)
	if err != nil {
		t.Fatal(err)
	}
	var back Inspection
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, ins) {
		t.Errorf("JSON round trip changed the inspection:\n%s", b)
	}
	for _, key := range []string{`"header":`, `"primary_compression":"gzip"`, `"runscript":`, `"environment":[{"name":"01-base.sh"`} {
		if !bytes.Contains(b, []byte(key)) {
			t.Errorf("JSON lacks %s:\n%s", key, b)
		}
	}
}

func TestInspectNotSIF(t *testing.T) {
	for name, in := range map[string][]byte{
		"empty":    nil,
		"short":    []byte("#!/usr/bin/env run-singularity\n"),
		"tar":      bytes.Repeat([]byte{0}, 10240),
		"squashfs": append([]byte("hsqs"), make([]byte, 200)...),
	} {
		_, err := Inspect(context.Background(), bytes.NewReader(in), int64(len(in)), Options{})
		if !errors.Is(err, ErrNotSIF) {
			t.Errorf("%s: %v, want ErrNotSIF", name, err)
		}
	}
}
