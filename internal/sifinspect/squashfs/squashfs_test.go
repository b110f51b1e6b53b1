package squashfs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/sifinspect/sifinspecttest"
)

// compressors are the ones mksquashfs offers and this reader reads.
func compressors() []string { return []string{"gzip", "xz", "zstd", "lz4", "lzo"} }

func open(t testing.TB, img []byte) *FS {
	t.Helper()
	f, err := Open(context.Background(), bytes.NewReader(img), int64(len(img)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// lookup walks an absolute path without following symlinks.
func lookup(ctx context.Context, f *FS, p string) (Inode, error) {
	ino, err := f.Root(ctx)
	for _, name := range strings.Split(strings.Trim(p, "/"), "/") {
		if err != nil || name == "" {
			break
		}
		ino, err = f.Lookup(ctx, ino, name)
	}
	return ino, err
}

func readPath(t testing.TB, f *FS, p string, max int) ([]byte, bool) {
	t.Helper()
	ctx := context.Background()
	ino, err := lookup(ctx, f, p)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	b, truncated, err := f.ReadFile(ctx, ino, max)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return b, truncated
}

// bigTree adds files that need several data blocks, a hole and fragments.
func bigTree(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	rng := rand.New(rand.NewChaCha8([32]byte{1}))
	files := map[string][]byte{
		"data/random":  make([]byte, 300_000),
		"data/text":    bytes.Repeat([]byte("singularity "), 40_000),
		"data/holey":   make([]byte, 3<<17+77),
		"data/small":   []byte("tiny tail in a fragment"),
		"data/exact":   bytes.Repeat([]byte{7}, 1<<17),
		"data/nothing": nil,
	}
	for i := range files["data/random"] {
		files["data/random"][i] = byte(rng.Uint32())
	}
	copy(files["data/holey"][1<<17+5:], "middle block")
	copy(files["data/holey"][3<<17:], "tail after holes")
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func TestReadsMksquashfsImages(t *testing.T) {
	dir := t.TempDir()
	im := sifinspecttest.Singularity()
	im.Write(t, dir)
	big := bigTree(t, dir)
	for _, comp := range compressors() {
		for _, variant := range [][]string{nil, {"-noI", "-noD", "-noF"}, {"-no-fragments"}} {
			name := comp + strings.Join(variant, "")
			t.Run(name, func(t *testing.T) {
				f := open(t, sifinspecttest.Squash(t, dir, comp, variant...))
				if got := f.Superblock().Compression.String(); got != comp {
					t.Errorf("compression %s, want %s", got, comp)
				}
				for p, want := range im.Files {
					if got, tr := readPath(t, f, p, 1<<20); string(got) != want || tr {
						t.Errorf("%s = %q (truncated %v), want %q", p, got, tr, want)
					}
				}
				for p, want := range big {
					got, _ := readPath(t, f, "/"+p, 1<<20)
					if sha256.Sum256(got) != sha256.Sum256(want) {
						t.Errorf("%s: %d bytes differ from the %d written", p, len(got), len(want))
					}
				}
			})
		}
	}
}

func TestSymlinksAndListings(t *testing.T) {
	dir := t.TempDir()
	im := sifinspecttest.Singularity()
	im.Write(t, dir)
	f := open(t, sifinspecttest.Squash(t, dir, "gzip"))
	ctx := context.Background()
	for p, target := range im.Symlinks {
		ino, err := lookup(ctx, f, p)
		if err != nil || ino.Type != Symlink || ino.Target != target {
			t.Errorf("%s: %+v, %v; want a symlink to %q", p, ino, err, target)
		}
	}
	env, err := lookup(ctx, f, "/.singularity.d/env")
	if err != nil {
		t.Fatal(err)
	}
	ents, more, err := f.ReadDir(ctx, env, 100)
	if err != nil || more {
		t.Fatalf("ReadDir: %v, more %v", err, more)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name)
	}
	if got, want := strings.Join(names, " "), strings.Join(sifinspecttest.EnvFiles(), " "); got != want {
		t.Errorf("env listing %q, want %q", got, want)
	}
	if ents, more, err = f.ReadDir(ctx, env, 3); err != nil || !more || len(ents) != 3 {
		t.Errorf("capped ReadDir: %d entries, more %v, %v", len(ents), more, err)
	}
	if _, err := lookup(ctx, f, "/.singularity.d/nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestReadFileTruncates(t *testing.T) {
	dir := t.TempDir()
	big := bigTree(t, dir)
	f := open(t, sifinspecttest.Squash(t, dir, "zstd"))
	for _, max := range []int{0, 1, 1000, 1 << 17, 1<<17 + 1, 200_000} {
		got, truncated := readPath(t, f, "/data/random", max)
		if !bytes.Equal(got, big["data/random"][:max]) || !truncated {
			t.Errorf("max %d: %d bytes, truncated %v", max, len(got), truncated)
		}
	}
}
