package sifinspect

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/sifinspect/sifinspecttest"
)

// maxExtra is the memory one inspection may allocate in total, an upper
// bound on its peak (runtime.MemStats.TotalAlloc counts every allocation).
const maxExtra = 64 << 20

// inspectBounded inspects img and fails the test if the inspection
// allocated more than maxExtra or hid a panic behind its recover.
func inspectBounded(t testing.TB, img []byte, opts Options) (ins *Inspection, err error, alloc uint64) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ins, err = Inspect(context.Background(), bytes.NewReader(img), int64(len(img)), opts)
	runtime.ReadMemStats(&after)
	alloc = after.TotalAlloc - before.TotalAlloc
	if alloc > maxExtra {
		t.Errorf("inspection allocated %d bytes", alloc)
	}
	if err != nil && strings.Contains(err.Error(), "panicked") {
		t.Errorf("a reader panicked: %v", err)
	}
	return ins, err, alloc
}

func sparseSIF(t testing.TB) []byte {
	return sifinspecttest.SIF(t, fixture(t, "sparse-4g.sqfs"), sifinspecttest.SIFOptions{Deffile: sifinspecttest.Deffile})
}

// Files that decompress to 4 GiB are cut at the per-file cap.
func TestHostileGigabyteFiles(t *testing.T) {
	ins, err, alloc := inspectBounded(t, sparseSIF(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("allocated %d bytes", alloc)
	const max = 1 << 20
	if len(ins.Runscript) != max || !strings.HasPrefix(ins.Runscript, sparsePrefix) {
		t.Errorf("runscript: %d bytes starting %q", len(ins.Runscript), ins.Runscript[:min(40, len(ins.Runscript))])
	}
	i := slices.IndexFunc(ins.Environment, func(e EnvFile) bool { return e.Name == sparseEnv })
	if i < 0 || len(ins.Environment[i].Content) != max {
		t.Errorf("env file %s missing or not cut at %d bytes", sparseEnv, max)
	}
	for _, p := range []string{"/.singularity.d/runscript", "/.singularity.d/env/" + sparseEnv} {
		if !slices.Contains(ins.Truncated, p) {
			t.Errorf("Truncated %q lacks %s", ins.Truncated, p)
		}
	}
	// The total cap applies too: with 1.5 MiB for everything, the second
	// huge file gets what is left.
	ins, _, _ = inspectBounded(t, sparseSIF(t), Options{MaxTotalSize: 3 << 19})
	total := len(ins.Runscript) + len(ins.Startscript) + len(ins.Test) + len(ins.Deffile) + len(ins.DefinitionBuilt)
	for _, e := range ins.Environment {
		total += len(e.Content)
	}
	if total > 3<<19 {
		t.Errorf("read %d bytes of content with a total cap of %d", total, 3<<19)
	}
}

func TestHostileDescriptorTable(t *testing.T) {
	img := sifinspecttest.SIF(t, fixture(t, "singularity-gzip.sqfs"), sifinspecttest.SIFOptions{})
	le := binary.LittleEndian
	for name, patch := range map[string]func(b []byte){
		"millions of descriptors": func(b []byte) { le.PutUint64(b[descriptorsTotalAt:], 5_000_000) },
		"negative count":          func(b []byte) { le.PutUint64(b[descriptorsTotalAt:], 1<<63) },
		"table past the end":      func(b []byte) { le.PutUint64(b[descriptorsOffsetAt:], 1<<40) },
		"table of 2^62 bytes":     func(b []byte) { le.PutUint64(b[descriptorsSizeAt:], 1<<62) },
		"short table":             func(b []byte) { le.PutUint64(b[descriptorsSizeAt:], 100) },
		"wrong version":           func(b []byte) { copy(b[42:], "99") },
	} {
		b := bytes.Clone(img)
		patch(b)
		if _, err, _ := inspectBounded(t, b, Options{}); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

// A SIF cut anywhere is refused or read as far as it goes.
func TestHostileTruncated(t *testing.T) {
	img := fixture(t, "signed-gzip.sif")
	var worst uint64
	for n := 0; n < len(img); n += 1 + n/64 {
		ins, err, alloc := inspectBounded(t, img[:n], Options{})
		worst = max(worst, alloc)
		switch {
		case err == nil && ins.Header.ID == "":
			t.Errorf("cut at %d: no error and no header", n)
		case err == nil && len(ins.Warnings) == 0:
			t.Errorf("cut at %d of %d: no error and no warning", n, len(img))
		case err != nil && !errors.Is(err, ErrNotSIF) && !errors.Is(err, ErrMalformed):
			t.Errorf("cut at %d: %v", n, err)
		}
	}
	t.Logf("most allocated by one inspection: %d bytes", worst)
}

// Random damage anywhere must not crash the reader or make it allocate.
func TestHostileCorrupt(t *testing.T) {
	img := sifinspecttest.SIF(t, fixture(t, "singularity-zstd.sqfs"), sifinspecttest.SIFOptions{Deffile: "x"})
	rng := rand.New(rand.NewPCG(1, 2))
	var worst uint64
	for i := 0; i < 400; i++ {
		b := bytes.Clone(img)
		for j := rng.IntN(8); j >= 0; j-- {
			b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
		}
		_, _, alloc := inspectBounded(t, b, Options{})
		worst = max(worst, alloc)
	}
	t.Logf("most allocated by one inspection: %d bytes", worst)
}

// writeHostileTree adds symlinks that loop, escape /.singularity.d or walk
// too deep, and a file outside that must never be read.
func writeHostileTree(t *testing.T, dir string) {
	im := sifinspecttest.Singularity()
	deep := "/.singularity.d/deep" + strings.Repeat("/a", 70)
	im.Files[deep+"/t"] = "too deep"
	im.Files["/etc/passwd"] = "root:x:0:0:secret"
	for p, target := range map[string]string{
		"/.singularity.d/runscript":                       "runscript",
		"/.singularity.d/startscript":                     "../etc/passwd",
		"/.singularity.d/test":                            strings.TrimPrefix(deep, "/.singularity.d/") + "/t",
		"/.singularity.d/Singularity":                     "actions/../runscript.help",
		"/.singularity.d/env/50-loop.sh":                  "50-loop2.sh",
		"/.singularity.d/env/50-loop2.sh":                 "50-loop.sh",
		"/.singularity.d/env/60-escape.sh":                "/etc/passwd",
		"/.singularity.d/env/70-inside.sh":                "../runscript.help",
		"/.singularity.d/env/80-dir":                      "../actions",
		"/.singularity.d/env/" + strings.Repeat("x", 255): strings.Repeat("./", 2000) + "99-base.sh",
	} {
		delete(im.Files, p)
		im.Symlinks[p] = target
	}
	im.Write(t, dir)
}

func TestHostileSymlinks(t *testing.T) {
	dir := t.TempDir()
	writeHostileTree(t, dir)
	img := sifinspecttest.SIF(t, sifinspecttest.Squash(t, dir, "gzip"), sifinspecttest.SIFOptions{})
	ins, err, _ := inspectBounded(t, img, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ins.Runscript != "" || ins.Startscript != "" || ins.Test != "" {
		t.Errorf("followed a loop, an escape or a deep path: %q %q %q", ins.Runscript, ins.Startscript, ins.Test)
	}
	help := sifinspecttest.Singularity().Files["/.singularity.d/runscript.help"]
	if ins.DefinitionBuilt != help {
		t.Errorf("Singularity -> actions/../runscript.help gave %q", ins.DefinitionBuilt)
	}
	env := map[string]string{}
	for _, e := range ins.Environment {
		env[e.Name] = e.Content
	}
	if env["70-inside.sh"] != help || env[strings.Repeat("x", 255)] != env["99-base.sh"] {
		t.Errorf("links inside /.singularity.d not followed: %q", env)
	}
	if _, ok := env["80-dir"]; ok {
		t.Errorf("a link to a directory is listed as an env file")
	}
	warnings := strings.Join(ins.Warnings, "\n")
	for _, w := range []string{"runscript: ", "startscript: ", "test: ", "50-loop.sh: ", "60-escape.sh: "} {
		if !strings.Contains(warnings, w) {
			t.Errorf("no warning for %s in:\n%s", w, warnings)
		}
	}
	if strings.Contains(warnings+env["60-escape.sh"]+ins.Startscript, "root:x") {
		t.Errorf("read a file outside /.singularity.d")
	}
}

// plainSIF is the test image with uncompressed metadata, to patch.
func plainSIF(t *testing.T, patch func(sq []byte)) []byte {
	dir := t.TempDir()
	sifinspecttest.Singularity().Write(t, dir)
	sq := sifinspecttest.Squash(t, dir, "gzip", "-noI", "-noD", "-noF")
	patch(sq)
	return sifinspecttest.SIF(t, sq, sifinspecttest.SIFOptions{})
}

// entryAt finds a directory entry of type dir named name in an image with
// an uncompressed directory table: offset u16, inode offset, type 1, name
// length - 1, name.
func entryAt(t *testing.T, sq []byte, name string) int {
	pat := append([]byte{1, 0, byte(len(name) - 1), 0}, name...)
	i := bytes.Index(sq, pat)
	if i < 4 || bytes.Count(sq, pat) != 1 {
		t.Fatalf("directory entry %q not found once", name)
	}
	return i - 4
}

func TestHostileDirectoryLoops(t *testing.T) {
	// env's entry points at /.singularity.d: env lists its own parent.
	img := plainSIF(t, func(sq []byte) {
		copy(sq[entryAt(t, sq, "env"):][:2], sq[entryAt(t, sq, ".singularity.d"):][:2])
	})
	ins, err, _ := inspectBounded(t, img, Options{})
	if err != nil || ins.Runscript == "" {
		t.Fatalf("%v, runscript %q", err, ins.Runscript)
	}
	if !slices.ContainsFunc(ins.Environment, func(e EnvFile) bool { return e.Name == "runscript" }) {
		t.Errorf("env should list /.singularity.d's files: %+v", ins.Environment)
	}
	// /.singularity.d's entry points at the root: a directory inside itself.
	img = plainSIF(t, func(sq []byte) {
		root := binary.LittleEndian.Uint64(sq[32:]) & 0xffff
		binary.LittleEndian.PutUint16(sq[entryAt(t, sq, ".singularity.d"):], uint16(root))
	})
	if ins, err, _ = inspectBounded(t, img, Options{}); err != nil || ins.Runscript != "" {
		t.Errorf("%v, runscript %q", err, ins.Runscript)
	}
}

// The time cap ends the partition's reading; what was read stays.
func TestHostileTimeCap(t *testing.T) {
	img := sparseSIF(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel once the SIF part is read: at the squashfs superblock.
	r := &cancelAt{r: bytes.NewReader(img), after: 5, cancel: cancel}
	ins, err := Inspect(ctx, r, int64(len(img)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ins.Header.ID == "" || ins.Deffile == "" || !strings.Contains(strings.Join(ins.Warnings, "\n"), "context canceled") {
		t.Errorf("header %q, deffile %d bytes, warnings %q", ins.Header.ID, len(ins.Deffile), ins.Warnings)
	}
	if _, err := Inspect(context.Background(), bytes.NewReader(img), int64(len(img)), Options{Timeout: 1}); !errors.Is(err, ErrMalformed) {
		t.Errorf("1 ns time cap: %v", err)
	}
}

// cancelAt cancels a context at its after-th read.
type cancelAt struct {
	r      *bytes.Reader
	after  int
	cancel context.CancelFunc
}

func (c *cancelAt) ReadAt(p []byte, off int64) (int, error) {
	if c.after--; c.after == 0 {
		c.cancel()
	}
	return c.r.ReadAt(p, off)
}
