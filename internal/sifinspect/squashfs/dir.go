package squashfs

import (
	"context"
	"encoding/binary"
	"fmt"
	"io/fs"
)

// DirEntry is one name in a directory listing.
type DirEntry struct {
	Name string
	Type Type
	ref  uint64
}

// Listing limits from the format: a header introduces at most 256 entries,
// and a name is at most 256 bytes.
const (
	maxRun  = 256
	maxName = 256
)

// entryType maps a listing's stored type (always the basic one) to Type.
func entryType(t uint16) Type {
	switch t {
	case inoDir, inoExtDir:
		return Dir
	case inoFile, inoExtFile:
		return File
	case inoSymlink, inoExtLink:
		return Symlink
	}
	return Other
}

// walk calls fn for each entry of dir's listing until fn returns true.
// name is only valid during the call.
func (f *FS) walk(ctx context.Context, dir Inode, fn func(name []byte, t uint16, ref uint64) bool) error {
	if dir.Type != Dir {
		return fmt.Errorf("%w: not a directory", fs.ErrInvalid)
	}
	if dir.Size == 0 {
		return nil
	}
	c, err := f.cursorAt(ctx, int64(f.sb.DirTable)+int64(dir.dirBlock), int(dir.dirOffset))
	if err != nil {
		return fmt.Errorf("directory listing: %w", err)
	}
	le := binary.LittleEndian
	left, seen := dir.Size, 0
	var hdr [12]byte
	var ent [8]byte
	var name [maxName]byte
	for left >= uint64(len(hdr)) {
		if err := c.read(ctx, hdr[:]); err != nil {
			return fmt.Errorf("directory header: %w", err)
		}
		left -= uint64(len(hdr))
		count, block := le.Uint32(hdr[0:])+1, uint64(le.Uint32(hdr[4:]))
		if count > maxRun {
			return fmt.Errorf("%w: directory run of %d entries", ErrCorrupt, count)
		}
		for ; count > 0; count-- {
			if seen++; seen > f.lim.MaxDirEntries {
				return fmt.Errorf("%w: directory has more than %d entries", ErrBudget, f.lim.MaxDirEntries)
			}
			if left < uint64(len(ent)) {
				return fmt.Errorf("%w: directory listing ends inside an entry", ErrCorrupt)
			}
			if err := c.read(ctx, ent[:]); err != nil {
				return fmt.Errorf("directory entry: %w", err)
			}
			n := int(le.Uint16(ent[6:])) + 1
			left -= uint64(len(ent))
			if n > maxName || uint64(n) > left {
				return fmt.Errorf("%w: directory entry name of %d bytes", ErrCorrupt, n)
			}
			if err := c.read(ctx, name[:n]); err != nil {
				return fmt.Errorf("directory entry name: %w", err)
			}
			left -= uint64(n)
			if fn(name[:n], le.Uint16(ent[4:]), block<<16|uint64(le.Uint16(ent[0:]))) {
				return nil
			}
		}
	}
	return nil
}

// Lookup finds name in dir. A missing name is fs.ErrNotExist.
func (f *FS) Lookup(ctx context.Context, dir Inode, name string) (Inode, error) {
	var ref uint64
	found := false
	err := f.walk(ctx, dir, func(n []byte, _ uint16, r uint64) bool {
		found = string(n) == name
		ref = r
		return found
	})
	if err != nil {
		return Inode{}, err
	}
	if !found {
		return Inode{}, fmt.Errorf("%q: %w", name, fs.ErrNotExist)
	}
	return f.inode(ctx, ref)
}

// ReadDir returns up to max entries of dir in stored order (mksquashfs
// sorts them by name); more says entries were left out.
func (f *FS) ReadDir(ctx context.Context, dir Inode, max int) (ents []DirEntry, more bool, err error) {
	err = f.walk(ctx, dir, func(n []byte, t uint16, r uint64) bool {
		if len(ents) == max {
			more = true
			return true
		}
		ents = append(ents, DirEntry{Name: string(n), Type: entryType(t), ref: r})
		return false
	})
	if err != nil {
		return nil, false, err
	}
	return ents, more, nil
}

// Inode decodes the inode an entry names.
func (f *FS) Inode(ctx context.Context, e DirEntry) (Inode, error) {
	return f.inode(ctx, e.ref)
}
