package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/logctx"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/sifinspect"
)

// InspectorVersion is the version of what Inspect stores; raising it makes
// the server inspect stored images again (Library.Backfill). Version 2
// verifies signatures against the keys Silo holds.
const InspectorVersion = 2

// SIF is what the library keeps of a SIF image, read from its blob before
// the transaction that records it (no blob I/O happens inside one).
type SIF struct {
	Arch string
	// Meta is the summary kept on the image row (signed, encrypted,
	// fingerprints), which search filters on.
	Meta ImageMeta
	// Labels become the image's label rows.
	Labels map[string]string
	// Inspection is the whole sifinspect.Inspection as JSON; nil when the
	// SIF was not inspected (an image tagged from an index entry keeps the
	// inspection its upload stored).
	Inspection []byte
	// Generation is the keyring generation its signatures were checked
	// with (RecordSigners).
	Generation int64
}

// ImageMeta is what images.metadata holds.
type ImageMeta struct {
	SIF          bool     `json:"sif"`
	Signed       bool     `json:"signed,omitempty"`
	Encrypted    bool     `json:"encrypted,omitempty"`
	Fingerprints []string `json:"fingerprints,omitempty"`
	// Verified and Signatures are the check of the signatures against the
	// keys Silo holds, at CheckedAt (signatures.go).
	Verified   bool             `json:"verified,omitempty"`
	Signatures []SignatureCheck `json:"signatures,omitempty"`
	CheckedAt  time.Time        `json:"checkedAt,omitzero"`
}

// JSON is m as images.metadata holds it.
func (m ImageMeta) JSON() string {
	b, _ := json.Marshal(m)
	return string(b)
}

// MetaOf decodes an image's metadata; bad JSON reads as empty.
func MetaOf(img meta.Image) ImageMeta {
	var m ImageMeta
	_ = json.Unmarshal([]byte(img.Metadata), &m)
	return m
}

// Inspect reads a committed blob as a SIF (internal/sifinspect: bounded
// in time and memory, nothing mounted or run). A blob that is not a SIF,
// or not a readable one, is apperr.Invalid: the library stores SIF images
// only. A SIF whose partition could not be read is still a SIF: its
// header, objects and signatures are kept, with warnings.
func (b *Bridge) Inspect(ctx context.Context, d digest.Digest) (SIF, error) {
	f, info, err := b.blobs.Open(ctx, d)
	if err != nil {
		return SIF{}, err
	}
	defer f.Close()
	ra, ok := f.(io.ReaderAt)
	if !ok {
		ra = &seekReaderAt{r: f}
	}
	in, err := sifinspect.Inspect(ctx, ra, info.Size, sifinspect.Options{})
	if errors.Is(err, sifinspect.ErrNotSIF) || errors.Is(err, sifinspect.ErrMalformed) {
		return SIF{}, apperr.Wrap(apperr.Invalid, err, "the image is refused: %v", err)
	}
	if err != nil {
		return SIF{}, apperr.Wrap(apperr.Internal, err, "inspecting %s", d)
	}
	if len(in.Warnings) > 0 {
		logctx.From(ctx).Info("SIF inspected with warnings", "digest", d, "warnings", in.Warnings)
	}
	s, err := sifOf(in)
	if err != nil || !s.Meta.Signed {
		return s, err
	}
	v, err := b.verify(ctx, ra, info.Size, s.Meta.Fingerprints)
	if err != nil {
		return SIF{}, err
	}
	s.Meta.apply(v)
	s.Generation = v.Generation
	return s, nil
}

// sifOf derives what the library keeps from an inspection.
func sifOf(in *sifinspect.Inspection) (SIF, error) {
	js, err := json.Marshal(in)
	if err != nil {
		return SIF{}, apperr.Wrap(apperr.Internal, err, "encoding an inspection")
	}
	s := SIF{Arch: in.Header.Arch, Labels: in.Labels, Inspection: js,
		Meta: ImageMeta{SIF: true, Signed: in.Signed, Encrypted: in.Encrypted}}
	if s.Arch == "unknown" {
		s.Arch = ""
	}
	for _, sig := range in.Signatures {
		if sig.Fingerprint != "" {
			s.Meta.Fingerprints = append(s.Meta.Fingerprints, sig.Fingerprint)
		}
	}
	return s, nil
}

// seekReaderAt gives a blob reader that has no ReadAt one, serializing
// reads (a blob store's reader, say over the network).
type seekReaderAt struct {
	mu sync.Mutex
	r  io.ReadSeeker
}

func (a *seekReaderAt) ReadAt(p []byte, off int64) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.r.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := io.ReadFull(a.r, p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}

// storeInspection records a SIF's inspection and its labels for img.
func storeInspection(ctx context.Context, tx Store, img meta.Image, sif SIF) error {
	if sif.Inspection != nil {
		in := meta.Inspection{Digest: img.Digest, Version: InspectorVersion, JSON: string(sif.Inspection)}
		if err := tx.PutInspection(ctx, &in); err != nil {
			return err
		}
	}
	if err := RecordSigners(ctx, tx, img.Digest, sif); err != nil {
		return err
	}
	if sif.Labels != nil {
		return tx.SetLabels(ctx, img.ID, sif.Labels)
	}
	return nil
}
