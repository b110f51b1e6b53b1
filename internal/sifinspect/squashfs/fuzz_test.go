package squashfs

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzSquashfs feeds damaged images straight to the reader (FuzzInspect
// reaches it through a SIF). The reader must return, not panic.
func FuzzSquashfs(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("..", "testdata", "*.sqfs"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds in ../testdata: %v", err)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, img []byte) {
		_ = readAll(img)
	})
}
