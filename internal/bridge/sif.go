package bridge

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	"github.com/sylabs/sif/v2/pkg/sif"

	"github.com/silo-hpc/silo/internal/logctx"
	"github.com/silo-hpc/silo/internal/meta"
)

// SIF is what the library keeps from a SIF's header and descriptors.
// Reading it costs the header and descriptor table (tens of KiB) and the
// labels object, never the partitions.
type SIF struct {
	Arch   string
	Meta   ImageMeta
	Labels map[string]string
}

// ImageMeta is what images.metadata holds (derived from the SIF).
type ImageMeta struct {
	SIF          bool     `json:"sif"`
	Signed       bool     `json:"signed,omitempty"`
	Encrypted    bool     `json:"encrypted,omitempty"`
	Fingerprints []string `json:"fingerprints,omitempty"`
}

// MetaOf decodes an image's metadata; bad JSON reads as empty.
func MetaOf(img meta.Image) ImageMeta {
	var m ImageMeta
	_ = json.Unmarshal([]byte(img.Metadata), &m)
	return m
}

const (
	// maxDescriptors bounds the descriptor table a hostile header can make
	// the SIF package allocate (it reads the whole table); images have 48.
	maxDescriptors = 4096
	// maxLabels bounds the JSON labels object read into memory.
	maxLabels = 1 << 20
	// sifHeaderSize is the fixed global header; DescriptorsTotal sits at 88.
	sifHeaderSize = 128
)

// ReadSIF inspects a committed blob, before the transaction that records
// it (no blob I/O happens inside one). A blob that is not a SIF is still a
// valid library file to store (the client decides what it pushes), so
// failures only leave the architecture unknown; they are logged.
func (b *Bridge) ReadSIF(ctx context.Context, d digest.Digest) SIF {
	log := logctx.From(ctx)
	f, _, err := b.blobs.Open(ctx, d)
	if err != nil {
		log.Warn("reading SIF header", "digest", d, "err", err)
		return SIF{}
	}
	defer f.Close()
	m, err := inspectSIF(f)
	if err != nil {
		log.Info("image is not a readable SIF", "digest", d, "err", err)
	}
	return m
}

func inspectSIF(r io.ReadSeeker) (SIF, error) {
	rw := &readOnlyAt{r: r}
	var hdr [sifHeaderSize]byte
	if _, err := rw.ReadAt(hdr[:], 0); err != nil {
		return SIF{}, fmt.Errorf("reading header: %w", err)
	}
	if n := int64(binary.LittleEndian.Uint64(hdr[88:96])); n < 0 || n > maxDescriptors {
		return SIF{}, fmt.Errorf("implausible descriptor count %d", n)
	}
	f, err := sif.LoadContainer(rw, sif.OptLoadWithCloseOnUnload(false))
	if err != nil {
		return SIF{}, err
	}
	defer f.UnloadContainer()
	m := SIF{Meta: ImageMeta{SIF: true}}
	if a := f.PrimaryArch(); a != "unknown" {
		m.Arch = a
	}
	sigs, _ := f.GetDescriptors(sif.WithDataType(sif.DataSignature))
	for _, d := range sigs {
		m.Meta.Signed = true
		if _, fp, err := d.SignatureMetadata(); err == nil && len(fp) > 0 {
			m.Meta.Fingerprints = append(m.Meta.Fingerprints, strings.ToUpper(hex.EncodeToString(fp)))
		}
	}
	if ds, _ := f.GetDescriptors(sif.WithDataType(sif.DataCryptoMessage)); len(ds) > 0 {
		m.Meta.Encrypted = true
	}
	if d, err := f.GetDescriptor(sif.WithDataType(sif.DataLabels)); err == nil && d.Size() <= maxLabels {
		m.Labels = decodeLabels(d.GetReader())
	}
	return m, nil
}

// decodeLabels reads a JSON labels object; non-string values keep their
// JSON text. Anything else yields no labels.
func decodeLabels(r io.Reader) map[string]string {
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return nil
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
	return out
}

var errReadOnly = errors.New("read-only")

// readOnlyAt gives a blob reader the ReaderAt the SIF package loads from;
// the write half of sif.ReadWriter is never used for loading.
type readOnlyAt struct {
	mu sync.Mutex
	r  io.ReadSeeker
}

func (a *readOnlyAt) ReadAt(p []byte, off int64) (int, error) {
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

func (a *readOnlyAt) Write([]byte) (int, error)      { return 0, errReadOnly }
func (a *readOnlyAt) Seek(int64, int) (int64, error) { return 0, errReadOnly }
func (a *readOnlyAt) Truncate(int64) error           { return errReadOnly }
