package sifinspect

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/silo-hpc/silo/internal/sifinspect/sifinspecttest"
)

// Squashfs fixtures in testdata, made by mksquashfs from sifinspecttest
// trees (SIFINSPECT_UPDATE_FIXTURES=1 go test -run TestUpdateFixtures
// remakes them). They let the fuzz target run without mksquashfs, and hold
// 4 GiB sparse files that take mksquashfs seconds to read. signed-gzip.sif
// is made by package signedtest's TestUpdateFixtures.
func fixtures() map[string]string {
	return map[string]string{
		"singularity-gzip.sqfs": "gzip",
		"singularity-xz.sqfs":   "xz",
		"singularity-zstd.sqfs": "zstd",
		"sparse-4g.sqfs":        "gzip",
	}
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("fixture %s (SIFINSPECT_UPDATE_FIXTURES=1 go test -run TestUpdateFixtures makes it): %v", name, err)
	}
	return b
}

// The sparse fixture's runscript and one env file are 4 GiB, mostly holes.
const (
	sparseSize   = 4 << 30
	sparseEnv    = "50-huge.sh"
	sparsePrefix = "#!/bin/sh\n# followed by 4 GiB of zeros\n"
)

func TestUpdateFixtures(t *testing.T) {
	if os.Getenv("SIFINSPECT_UPDATE_FIXTURES") != "1" {
		t.Skip("set SIFINSPECT_UPDATE_FIXTURES=1 to remake testdata")
	}
	for name, comp := range fixtures() {
		dir := t.TempDir()
		sifinspecttest.Singularity().Write(t, dir)
		if name == "sparse-4g.sqfs" {
			for _, p := range []string{".singularity.d/runscript", ".singularity.d/env/" + sparseEnv} {
				full := filepath.Join(dir, p)
				if err := os.WriteFile(full, []byte(sparsePrefix), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(full, sparseSize); err != nil {
					t.Fatal(err)
				}
			}
		}
		b := sifinspecttest.Squash(t, dir, comp, "-nopad", "-mkfs-time", "0", "-all-time", "0")
		if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
