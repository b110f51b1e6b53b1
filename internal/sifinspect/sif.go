package sifinspect

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sylabs/sif/v2/pkg/sif"
)

// SIF global header layout (sif/v2 reads it the same way).
const (
	headerSize = 128
	magicAt    = 32 // "SIF_MAGIC\0"
	// The descriptor table: count, offset and size in bytes.
	descriptorsTotalAt  = 88
	descriptorsOffsetAt = 96
	descriptorsSizeAt   = 104
	// maxDescriptors bounds the table sif/v2 allocates and decodes whole
	// (585 bytes each); singularity build makes 48.
	maxDescriptors = 4096
)

// readSIF reads the header and descriptors, then the definition file and
// labels objects.
func (in *inspector) readSIF(ctx context.Context, r io.ReaderAt, size int64) error {
	if err := checkHeader(r, size); err != nil {
		return err
	}
	f, err := sif.LoadContainer(readOnly{io.NewSectionReader(r, 0, size)}, sif.OptLoadWithCloseOnUnload(false))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	defer f.UnloadContainer()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	in.ins.Header = Header{
		ID:       f.ID(),
		Arch:     f.PrimaryArch(),
		Created:  in.time("created", f.CreatedAt()),
		Modified: in.time("modified", f.ModifiedAt()),
		Version:  f.Version(),
	}
	in.ins.Partitions, in.ins.Objects, in.ins.Signatures = []Partition{}, []Object{}, []Signature{}
	f.WithDescriptors(func(d sif.Descriptor) bool {
		in.object(d)
		return false
	})
	in.ins.Signed = len(in.ins.Signatures) > 0
	in.readObjects(ctx, r, f)
	return nil
}

// time keeps a header time the JSON encoding can carry (years 0-9999):
// the inspection is stored as JSON, and a forged time must not stop that.
func (in *inspector) time(what string, t time.Time) time.Time {
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		in.warn("%s time out of range (year %d): left out", what, y)
		return time.Time{}
	}
	return t.UTC()
}

// checkHeader sorts non-SIF input from SIF input, and refuses a descriptor
// table sif/v2 should not be asked to allocate.
func checkHeader(r io.ReaderAt, size int64) error {
	if size < headerSize {
		return fmt.Errorf("%w: %d bytes", ErrNotSIF, size)
	}
	h := make([]byte, headerSize)
	if n, err := r.ReadAt(h, 0); n < headerSize {
		return fmt.Errorf("reading SIF header: %w", err)
	}
	if err := CheckMagic(h); err != nil {
		return err
	}
	le := binary.LittleEndian
	total := int64(le.Uint64(h[descriptorsTotalAt:]))
	off := int64(le.Uint64(h[descriptorsOffsetAt:]))
	n := int64(le.Uint64(h[descriptorsSizeAt:]))
	if total < 0 || total > maxDescriptors {
		return fmt.Errorf("%w: %d descriptors", ErrMalformed, total)
	}
	if off < 0 || n < 0 || off > size || n > size-off {
		return fmt.Errorf("%w: descriptor table of %d bytes at %d in %d", ErrMalformed, n, off, size)
	}
	return nil
}

// HeaderSize is how many leading bytes of a file CheckMagic reads.
const HeaderSize = headerSize

// CheckMagic sorts, from a file's first HeaderSize bytes, what cannot be
// a SIF (ErrNotSIF) from what may be one, so an upload that streams can
// refuse the former before a byte is stored. Inspect still
// decides for the rest.
func CheckMagic(head []byte) error {
	if len(head) < headerSize || !bytes.Equal(head[magicAt:magicAt+10], []byte("SIF_MAGIC\x00")) {
		return ErrNotSIF
	}
	return nil
}

// object records one descriptor.
func (in *inspector) object(d sif.Descriptor) {
	o := Object{ID: d.ID(), Type: d.DataType().String(), Name: d.Name(), Group: d.GroupID(), Size: d.Size()}
	if id, isGroup := d.LinkedID(); isGroup {
		o.LinkedGroup = id
	} else {
		o.LinkedObject = id
	}
	in.ins.Objects = append(in.ins.Objects, o)
	if !in.inside(d.Offset(), d.Size()) {
		// A cut upload, typically: say so even for objects not read.
		in.warn("object %d: %d bytes at %d lie outside the %d-byte image", d.ID(), d.Size(), d.Offset(), in.size)
	}
	switch d.DataType() {
	case sif.DataPartition:
		fs, pt, arch, err := d.PartitionMetadata()
		if err != nil {
			in.warn("partition object %d: %v", d.ID(), err)
			return
		}
		p := Partition{ID: d.ID(), Type: pt.String(), FS: fs.String(), Arch: arch, Size: d.Size()}
		in.ins.Partitions = append(in.ins.Partitions, p)
		if pt == sif.PartPrimSys && in.primary == nil {
			in.primary = &partition{fs: fs, offset: d.Offset(), size: d.Size()}
			h := &in.ins.Header
			h.PrimaryFS, h.PrimaryArch, h.PrimarySize = p.FS, p.Arch, p.Size
			in.ins.Encrypted = in.ins.Encrypted || fs == sif.FsEncryptedSquashfs
		}
	case sif.DataSignature:
		in.signature(d, o)
	case sif.DataCryptoMessage:
		in.ins.Encrypted = true
	}
}

func (in *inspector) signature(d sif.Descriptor, o Object) {
	s := Signature{ID: d.ID(), SignedGroup: o.LinkedGroup, SignedObject: o.LinkedObject}
	ht, fp, err := d.SignatureMetadata()
	if err != nil {
		in.warn("signature object %d: %v", d.ID(), err)
	} else {
		s.HashType, s.Fingerprint = ht.String(), strings.ToUpper(hex.EncodeToString(fp))
	}
	in.ins.Signatures = append(in.ins.Signatures, s)
}

// readObjects reads the definition file and labels objects.
func (in *inspector) readObjects(ctx context.Context, r io.ReaderAt, f *sif.FileImage) {
	if b, ok := in.firstObject(ctx, r, f, sif.DataDeffile, "sif:deffile"); ok {
		in.ins.Deffile = string(b)
	}
	if b, ok := in.firstObject(ctx, r, f, sif.DataLabels, "sif:labels"); ok {
		labels, err := decodeLabels(b)
		if err != nil {
			in.warn("SIF labels object: %v", err)
		}
		in.ins.SIFLabels = labels
	}
}

// firstObject reads the first object of type dt, at most the allowance.
func (in *inspector) firstObject(ctx context.Context, r io.ReaderAt, f *sif.FileImage, dt sif.DataType, what string) ([]byte, bool) {
	ds, err := f.GetDescriptors(sif.WithDataType(dt))
	if err != nil || len(ds) == 0 {
		return nil, false
	}
	d := ds[0]
	if !in.inside(d.Offset(), d.Size()) {
		return nil, false // warned about in object
	}
	if err := ctx.Err(); err != nil {
		in.warn("%s: %v", what, err)
		return nil, false
	}
	n := min(d.Size(), int64(in.allowance()))
	b := make([]byte, n)
	if m, err := r.ReadAt(b, d.Offset()); m < len(b) {
		in.warn("%s: %v", what, err)
		return nil, false
	}
	in.took(what, len(b), d.Size() > n)
	return b, true
}

// decodeLabels reads a JSON object of labels; values that are not strings
// keep their JSON text, as the library's label search expects.
func decodeLabels(b []byte) (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		} else {
			out[k] = string(v)
		}
	}
	return out, nil
}

var errReadOnly = errors.New("read-only")

// readOnly gives sif.LoadContainer the ReadWriter it asks for; loading
// never writes.
type readOnly struct{ io.ReaderAt }

func (readOnly) Write([]byte) (int, error)      { return 0, errReadOnly }
func (readOnly) Seek(int64, int) (int64, error) { return 0, errReadOnly }
func (readOnly) Truncate(int64) error           { return errReadOnly }
