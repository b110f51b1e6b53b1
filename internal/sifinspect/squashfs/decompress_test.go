package squashfs

import (
	"bytes"
	"errors"
	"os/exec"
	"testing"

	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/silo-hpc/silo/internal/testenv"
)

// A block that decompresses past its buffer is corruption, whatever the
// compressor: a hostile image cannot make the reader produce more.
func TestDecodeRefusesBombs(t *testing.T) {
	zeros := make([]byte, 4<<20)
	var zl bytes.Buffer
	w := zlib.NewWriter(&zl)
	w.Write(zeros)
	w.Close()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	lz := make([]byte, lz4.CompressBlockBound(len(zeros)))
	n, err := lz4.CompressBlock(zeros, lz, nil)
	if err != nil {
		t.Fatal(err)
	}
	bombs := map[Compression][]byte{
		Gzip: zl.Bytes(),
		Zstd: enc.EncodeAll(zeros, nil),
		LZ4:  lz[:n],
		XZ:   xzBytes(t, zeros, "--lzma2=dict=64KiB"),
	}
	for c, src := range bombs {
		d, err := newDecoder(c, 1<<17)
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]byte, metaBlockSize)
		if n, err := d.decode(dst, src); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %d-byte bomb gave %d bytes, err %v; want ErrCorrupt", c, len(src), n, err)
		}
		d.close()
	}
}

// An xz stream asking for a dictionary larger than the block size is
// refused before the dictionary is allocated.
func TestDecodeRefusesLargeXZDictionary(t *testing.T) {
	src := xzBytes(t, []byte("hello"), "--lzma2=dict=1GiB")
	d, err := newDecoder(XZ, 1<<17)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := d.decode(make([]byte, 1<<17), src); !errors.Is(err, ErrCorrupt) {
		t.Errorf("gave %d bytes, err %v; want ErrCorrupt", n, err)
	}
}

func xzBytes(t *testing.T, data []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(testenv.LookPath(t, "xz"), append([]string{"-c", "--check=crc32"}, args...)...)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xz: %v", err)
	}
	return out
}
