package squashfs

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"runtime"
	"testing"

	"github.com/silo-hpc/silo/internal/sifinspect/sifinspecttest"
)

// maxExtra is the memory one hostile read may allocate in total (an upper
// bound on its peak).
const maxExtra = 64 << 20

// allocated returns the bytes fn allocates (runtime.MemStats.TotalAlloc).
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// plainImage is a singularity tree squashed with uncompressed metadata and
// data, so tests can patch inodes and listings in place.
func plainImage(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	sifinspecttest.Singularity().Write(t, dir)
	return sifinspecttest.Squash(t, dir, "gzip", "-noI", "-noD", "-noF", "-no-xattrs")
}

// inodeAt returns where the inode of path starts in img: the inode table
// is stored uncompressed, so a reference maps to a file position.
func inodeAt(t *testing.T, img []byte, path ...string) int {
	t.Helper()
	ctx := context.Background()
	f := open(t, img)
	dir, err := f.Root(ctx)
	ref := f.sb.RootInode
	for _, name := range path {
		if err != nil {
			break
		}
		err = f.walk(ctx, dir, func(n []byte, _ uint16, r uint64) bool {
			ref = r
			return string(n) == name
		})
		if err == nil {
			dir, err = f.inode(ctx, ref)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return int(f.sb.InodeTable + ref>>16 + 2 + ref&0xffff)
}

// readAll does what package sifinspect does with an image, reporting the
// first error.
func readAll(img []byte) error {
	ctx := context.Background()
	f, err := Open(ctx, bytes.NewReader(img), int64(len(img)), Limits{})
	if err != nil {
		return err
	}
	defer f.Close()
	var first error
	for _, p := range []string{"/.singularity.d/runscript", "/.singularity.d/env", "/singularity", "/.singularity.d/env/90-environment.sh"} {
		ino, err := lookup(ctx, f, p)
		switch {
		case err != nil:
		case ino.Type == File:
			_, _, err = f.ReadFile(ctx, ino, 1<<20)
		case ino.Type == Dir:
			_, _, err = f.ReadDir(ctx, ino, 1000)
		}
		if first == nil {
			first = err
		}
	}
	return first
}

func TestHostileInodes(t *testing.T) {
	img := plainImage(t)
	le := binary.LittleEndian
	cases := map[string]func(b []byte){
		"directory size 65535": func(b []byte) {
			le.PutUint16(b[inodeAt(t, b, ".singularity.d", "env")+24:], 0xffff)
		},
		"file size 4 GiB": func(b []byte) {
			le.PutUint32(b[inodeAt(t, b, ".singularity.d", "runscript")+28:], 0xffffffff)
		},
		"file data past the end": func(b []byte) {
			le.PutUint32(b[inodeAt(t, b, ".singularity.d", "runscript")+16:], 0xfffffff0)
		},
		"fragment out of range": func(b []byte) {
			le.PutUint32(b[inodeAt(t, b, ".singularity.d", "runscript")+20:], 12345)
		},
		"symlink target 4 GiB": func(b []byte) {
			le.PutUint32(b[inodeAt(t, b, "singularity")+20:], 0xffffffff)
		},
		"directory is its own child": func(b []byte) {
			self := inodeAt(t, b, ".singularity.d")
			env := inodeAt(t, b, ".singularity.d", "env")
			copy(b[env+16:env+32], b[self+16:self+32])
		},
		"inode type 99": func(b []byte) {
			le.PutUint16(b[inodeAt(t, b, ".singularity.d", "env"):], 99)
		},
		"metadata block of 32 KiB": func(b []byte) {
			le.PutUint16(b[le.Uint64(b[64:]):], 0x7fff)
		},
		"compressed metadata that is not": func(b []byte) {
			h := le.Uint64(b[64:])
			le.PutUint16(b[h:], le.Uint16(b[h:])&0x7fff)
		},
		"tables out of order": func(b []byte) { copy(b[64:72], b[72:80]) },
		"block size 64 MiB":   func(b []byte) { le.PutUint32(b[12:], 1<<26); le.PutUint16(b[22:], 26) },
		"unknown compressor":  func(b []byte) { le.PutUint16(b[20:], 99) },
		"bytes used past end": func(b []byte) { le.PutUint64(b[40:], 1<<40) },
	}
	for name, patch := range cases {
		t.Run(name, func(t *testing.T) {
			b := bytes.Clone(img)
			patch(b)
			var err error
			if n := allocated(func() { err = readAll(b) }); n > maxExtra {
				t.Errorf("allocated %d bytes", n)
			}
			want := ErrCorrupt
			if name == "directory is its own child" {
				want = fs.ErrNotExist // env lists .singularity.d, which has no 90-environment.sh
			}
			if !errors.Is(err, want) {
				t.Errorf("got %v, want %v", err, want)
			}
		})
	}
}

// A directory listing that never ends still stops at the entry cap.
func TestDirectoryEntryCap(t *testing.T) {
	img := plainImage(t)
	ctx := context.Background()
	f, err := Open(ctx, bytes.NewReader(img), int64(len(img)), Limits{MaxDirEntries: 3})
	if err != nil {
		t.Fatal(err)
	}
	env, err := lookup(ctx, f, "/.singularity.d/env")
	if err == nil {
		_, _, err = f.ReadDir(ctx, env, 100)
	}
	if !errors.Is(err, ErrBudget) {
		t.Errorf("ReadDir of 7 entries with a cap of 3: %v, want ErrBudget", err)
	}
}

// The read budget and the context stop a reader whatever the image says.
func TestBudgetsAndContext(t *testing.T) {
	img := plainImage(t)
	f, err := Open(context.Background(), bytes.NewReader(img), int64(len(img)), Limits{MaxRead: 200})
	if err == nil {
		_, err = lookup(context.Background(), f, "/.singularity.d/runscript")
	}
	if !errors.Is(err, ErrBudget) {
		t.Errorf("200-byte read budget: %v, want ErrBudget", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, bytes.NewReader(img), int64(len(img)), Limits{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}
