package sifinspecttest

import (
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/sylabs/sif/v2/pkg/sif"
)

// Seeded reads size pseudo-random bytes from seed: equal seeds, equal
// bytes, generated as they are read (nothing held in memory).
func Seeded(seed uint64, size int64) io.Reader {
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	return io.LimitReader(rand.NewChaCha8(key), size)
}

// RandomSIF writes, in a new temporary directory, name: a SIF (laid out
// deterministically) whose one object is a primary squashfs-typed
// partition for arch holding size bytes of Seeded(seed): the least a
// registry takes for a SIF, of any size. It returns the file's path.
func RandomSIF(t testing.TB, name, arch string, size int64, seed uint64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	di, err := sif.NewDescriptorInput(sif.DataPartition, Seeded(seed, size),
		sif.OptPartitionMetadata(sif.FsSquash, sif.PartPrimSys, arch))
	if err != nil {
		t.Fatal(err)
	}
	f, err := sif.CreateContainerAtPath(path, sif.OptCreateWithDescriptors(di), sif.OptCreateDeterministic())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.UnloadContainer(); err != nil {
		t.Fatal(err)
	}
	return path
}

// ReadFile returns a file's bytes.
func ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
