package sifinspecttest

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/sylabs/sif/v2/pkg/sif"
)

// SIF options. The zero value makes an amd64 image with no definition file
// and no labels object. Signing is package signedtest's: it pulls in
// sif/v2's integrity package and its many dependencies, which would slow
// the fuzz targets' coverage tracking by orders of magnitude.
type SIFOptions struct {
	Deffile string            // DataDeffile object, when not empty
	Labels  map[string]string // DataLabels JSON object, when not nil
	JSON    string            // a DataGenericJSON object, when not empty
	Arch    string            // primary partition's architecture (default amd64)
	FS      sif.FSType        // primary partition's file system (default squashfs)
	// Descriptors is the descriptor table's capacity (default 48, as
	// singularity build makes it; 585 bytes each).
	Descriptors int64
}

// Created is the creation time images made here carry.
func Created() time.Time { return time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC) }

// ID is the SIF header id images made here carry.
const ID = "2a7e44e0-8a4c-4c49-9c44-6a3c1e1f2b3d"

// SIF wraps a squashfs image into a SIF in memory.
func SIF(t testing.TB, squash []byte, o SIFOptions) []byte {
	t.Helper()
	buf := sif.NewBuffer(nil)
	WriteSIF(t, buf, bytes.NewReader(squash), o)
	return buf.Bytes()
}

// WriteSIF writes a SIF into rw, streaming the partition from squash.
// Objects are laid out as singularity build does: the definition file,
// metadata and the primary partition in object group 1.
func WriteSIF(t testing.TB, rw sif.ReadWriter, squash io.Reader, o SIFOptions) {
	t.Helper()
	if o.Arch == "" {
		o.Arch = "amd64"
	}
	if o.FS == 0 {
		o.FS = sif.FsSquash
	}
	if o.Descriptors == 0 {
		o.Descriptors = 48
	}
	var dis []sif.DescriptorInput
	add := func(dt sif.DataType, r io.Reader, opts ...sif.DescriptorInputOpt) {
		di, err := sif.NewDescriptorInput(dt, r, append(opts, sif.OptObjectTime(Created()))...)
		if err != nil {
			t.Fatal(err)
		}
		dis = append(dis, di)
	}
	if o.Deffile != "" {
		add(sif.DataDeffile, bytes.NewReader([]byte(o.Deffile)))
	}
	if o.Labels != nil {
		b, err := json.Marshal(o.Labels)
		if err != nil {
			t.Fatal(err)
		}
		add(sif.DataLabels, bytes.NewReader(b))
	}
	if o.JSON != "" {
		add(sif.DataGenericJSON, bytes.NewReader([]byte(o.JSON)))
	}
	add(sif.DataPartition, squash, sif.OptPartitionMetadata(o.FS, sif.PartPrimSys, o.Arch))
	f, err := sif.CreateContainer(rw, sif.OptCreateWithDescriptors(dis...),
		sif.OptCreateWithID(ID), sif.OptCreateWithTime(Created()), sif.OptCreateWithCloseOnUnload(false),
		sif.OptCreateWithDescriptorCapacity(o.Descriptors))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.UnloadContainer(); err != nil {
		t.Fatal(err)
	}
}
