package sifinspect

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/silo-hpc/silo/internal/sifinspect/squashfs"
)

// Symlink resolution limits. Real images link runscript at most once or
// twice; loops and forged deep paths hit these quickly.
const (
	maxHops  = 8    // symlinks followed for one path
	maxSteps = 64   // components walked for one path, all hops together
	maxPath  = 4096 // bytes of a path after a symlink is substituted
)

// rootFS resolves paths in the primary partition.
type rootFS struct {
	fs *squashfs.FS
}

// resolve returns the inode at p, an absolute path inside /.singularity.d,
// following symlinks whose resolved path stays inside /.singularity.d.
// Paths are resolved as the kernel would but lexically for "..": every
// directory walked has a cleaned path inside /.singularity.d, so nothing
// outside it is ever read.
func (rf rootFS) resolve(ctx context.Context, p string) (squashfs.Inode, error) {
	hops, steps := 0, 0
	for {
		p = path.Clean(p)
		if p != singularityDir && !strings.HasPrefix(p, singularityDir+"/") {
			return squashfs.Inode{}, fmt.Errorf("%q is outside %s: not followed", p, singularityDir)
		}
		if len(p) > maxPath {
			return squashfs.Inode{}, fmt.Errorf("path of %d bytes: too long", len(p))
		}
		cur, err := rf.fs.Root(ctx)
		if err != nil {
			return squashfs.Inode{}, err
		}
		parts, dir := strings.Split(p[1:], "/"), "/"
		next := ""
		for i, name := range parts {
			if steps++; steps > maxSteps {
				return squashfs.Inode{}, fmt.Errorf("%q: more than %d path components walked", p, maxSteps)
			}
			ino, err := rf.fs.Lookup(ctx, cur, name)
			if err != nil {
				return squashfs.Inode{}, fmt.Errorf("%s: %w", path.Join(dir, name), err)
			}
			if ino.Type == squashfs.Symlink {
				target := ino.Target
				if !path.IsAbs(target) {
					target = path.Join(dir, target)
				}
				next = path.Join(append([]string{target}, parts[i+1:]...)...)
				break
			}
			if i < len(parts)-1 && ino.Type != squashfs.Dir {
				return squashfs.Inode{}, fmt.Errorf("%s: a %s, not a directory", path.Join(dir, name), ino.Type)
			}
			cur, dir = ino, path.Join(dir, name)
		}
		if next == "" {
			return cur, nil
		}
		if hops++; hops > maxHops {
			return squashfs.Inode{}, fmt.Errorf("%q: more than %d symlinks", p, maxHops)
		}
		p = next
	}
}
