package sifinspect

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/silo-hpc/silo/internal/sifinspect/sifinspecttest"
)

// bigSIF writes a SIF whose primary partition is a squashfs of the test
// tree, 2,000 small files (so the inode and directory tables span many
// metadata blocks) and size bytes of random data. Data blocks are stored
// uncompressed (-noD) only to build quickly: Inspect never reads them.
func bigSIF(b *testing.B, comp string, size int64) (path string) {
	dir := b.TempDir()
	root := filepath.Join(dir, "root")
	sifinspecttest.Singularity().Write(b, root)
	lib := filepath.Join(root, "usr", "lib", "pkg")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		b.Fatal(err)
	}
	for i := range 2000 {
		if err := os.WriteFile(filepath.Join(lib, fmt.Sprintf("file%04d.py", i)), []byte(fmt.Sprintf("# %d\n", i)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	writeRandom(b, filepath.Join(root, "opt", "data.bin"), size)
	sq, err := os.Open(sifinspecttest.SquashFile(b, root, comp, "-noD"))
	if err != nil {
		b.Fatal(err)
	}
	defer sq.Close()
	path = filepath.Join(dir, "image.sif")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sifinspecttest.WriteSIF(b, f, bufio.NewReaderSize(sq, 1<<20), sifinspecttest.SIFOptions{Deffile: sifinspecttest.Deffile, Labels: sifLabels()})
	return path
}

func writeRandom(b *testing.B, path string, size int64) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rng := rand.NewChaCha8([32]byte{9})
	buf := make([]byte, 1<<20)
	for n := int64(0); n < size; n += int64(len(buf)) {
		rng.Read(buf)
		if _, err := f.Write(buf[:min(int64(len(buf)), size-n)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInspect inspects SIFs of 64 MiB and 1 GiB read from files (the
// page cache is warm: the upload just wrote them). The cost does not grow
// with the size: Inspect reads the same few metadata blocks either way.
func BenchmarkInspect(b *testing.B) {
	for _, size := range []int64{64 << 20, 1 << 30} {
		b.Run(fmt.Sprintf("gzip-%dMiB", size>>20), func(b *testing.B) {
			path := bigSIF(b, "gzip", size)
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				b.Fatal(err)
			}
			r := &countingReader{r: f}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				ins, err := Inspect(context.Background(), r, st.Size(), Options{})
				if err != nil || len(ins.Warnings) > 0 || ins.Runscript == "" {
					b.Fatalf("%v %q", err, ins.Warnings)
				}
			}
			b.ReportMetric(float64(r.n)/float64(b.N), "bytes-read/op")
			b.ReportMetric(float64(r.calls)/float64(b.N), "reads/op")
		})
	}
}

// BenchmarkInspectCompressors inspects the small test image made with each
// compressor, for the evaluation in docs/sif-inspection.md.
func BenchmarkInspectCompressors(b *testing.B) {
	dir := b.TempDir()
	sifinspecttest.Singularity().Write(b, dir)
	for _, comp := range []string{"gzip", "xz", "zstd", "lz4", "lzo"} {
		img := sifinspecttest.SIF(b, sifinspecttest.Squash(b, dir, comp), sifinspecttest.SIFOptions{Deffile: sifinspecttest.Deffile})
		b.Run(comp, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Inspect(context.Background(), bytes.NewReader(img), int64(len(img)), Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// countingReader counts what Inspect reads.
type countingReader struct {
	r        *os.File
	n, calls int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	c.calls++
	return n, err
}
