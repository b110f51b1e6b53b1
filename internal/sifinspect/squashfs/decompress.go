package squashfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	lzo "github.com/anchore/go-lzo"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"github.com/mikelolasagasti/xz"
	"github.com/pierrec/lz4/v4"
)

// Compression is the superblock's compressor id.
type Compression uint16

// Compressor ids from the SquashFS 4.0 format.
const (
	Gzip Compression = 1
	LZMA Compression = 2
	LZO  Compression = 3
	XZ   Compression = 4
	LZ4  Compression = 5
	Zstd Compression = 6
)

func (c Compression) String() string {
	switch c {
	case Gzip:
		return "gzip"
	case LZMA:
		return "lzma"
	case LZO:
		return "lzo"
	case XZ:
		return "xz"
	case LZ4:
		return "lz4"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("compression(%d)", uint16(c))
}

// decoder decompresses one block into a buffer whose length is the most the
// format allows for that block, so a hostile stream can neither allocate
// nor produce more. Stream decoders are made on first use and reset after.
type decoder struct {
	comp Compression
	dict uint32 // largest xz dictionary accepted
	zl   io.ReadCloser
	xzr  *xz.Reader
	zstd *zstd.Decoder
}

func newDecoder(c Compression, blockSize uint32) (*decoder, error) {
	switch c {
	case Gzip, LZO, XZ, LZ4, Zstd:
		// mksquashfs refuses an xz dictionary larger than the block size.
		return &decoder{comp: c, dict: blockSize}, nil
	case LZMA:
		return nil, fmt.Errorf("%w: %s compression", ErrUnsupported, c)
	}
	return nil, fmt.Errorf("%w: unknown compression id %d", ErrCorrupt, uint16(c))
}

// decode decompresses src into dst and returns the length used. Output that
// would not fit dst is corruption.
func (d *decoder) decode(dst, src []byte) (int, error) {
	var n int
	var err error
	switch d.comp {
	case Gzip:
		n, err = d.gzip(dst, src)
	case XZ:
		n, err = d.xz(dst, src)
	case Zstd:
		n, err = d.zstdBlock(dst, src)
	case LZ4:
		n, err = lz4.UncompressBlock(src, dst)
	case LZO:
		n, err = lzo.Decompress(src, dst)
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %s block: %v", ErrCorrupt, d.comp, err)
	}
	return n, nil
}

func (d *decoder) gzip(dst, src []byte) (int, error) {
	var err error
	if d.zl == nil {
		d.zl, err = zlib.NewReader(bytes.NewReader(src))
	} else {
		err = d.zl.(zlib.Resetter).Reset(bytes.NewReader(src), nil)
	}
	if err != nil {
		return 0, err
	}
	return fill(d.zl, dst)
}

func (d *decoder) xz(dst, src []byte) (int, error) {
	var err error
	if d.xzr == nil {
		// dictMax makes a forged header fail instead of allocating the
		// dictionary it asks for (up to 4 GiB).
		d.xzr, err = xz.NewReader(bytes.NewReader(src), d.dict)
	} else {
		err = d.xzr.Reset(bytes.NewReader(src))
	}
	if err != nil {
		return 0, err
	}
	return fill(d.xzr, dst)
}

func (d *decoder) zstdBlock(dst, src []byte) (int, error) {
	if d.zstd == nil {
		var err error
		d.zstd, err = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(maxBlockSize),
			zstd.WithDecoderMaxMemory(maxBlockSize),
			zstd.WithDecodeAllCapLimit(true))
		if err != nil {
			return 0, err
		}
	}
	// With the cap limit, DecodeAll refuses to grow past cap(dst).
	out, err := d.zstd.DecodeAll(src, dst[:0:len(dst)])
	if err != nil {
		return 0, err
	}
	if len(out) > 0 && &out[0] != &dst[0] {
		return 0, errors.New("zstd output moved")
	}
	return len(out), nil
}

// maxBlockSize is the largest data block the format allows.
const maxBlockSize = 1 << maxBlockLog

// fill reads r to its end into dst; a stream longer than dst is an error.
// io.ReadFull would not do: it reports a truncated stream's own
// io.ErrUnexpectedEOF the same way as a short, complete one.
func fill(r io.Reader, dst []byte) (int, error) {
	n, idle := 0, 0
	for {
		if n == len(dst) {
			var one [1]byte
			m, err := r.Read(one[:])
			if m > 0 {
				return 0, fmt.Errorf("output exceeds %d bytes", len(dst))
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return 0, err
			}
			return n, nil
		}
		m, err := r.Read(dst[n:])
		n += m
		switch {
		case errors.Is(err, io.EOF):
			return n, nil
		case err != nil:
			return 0, err
		case m == 0:
			if idle++; idle > 100 {
				return 0, io.ErrNoProgress
			}
		}
	}
}

// close releases the zstd decoder's resources.
func (d *decoder) close() {
	if d.zstd != nil {
		d.zstd.Close()
	}
}
