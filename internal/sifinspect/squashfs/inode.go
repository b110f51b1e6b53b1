package squashfs

import (
	"context"
	"encoding/binary"
	"fmt"
)

// Type is what an inode is, as far as this reader cares.
type Type uint8

// Inode types.
const (
	Other Type = iota // devices, fifos, sockets
	Dir
	File
	Symlink
)

func (t Type) String() string {
	switch t {
	case Dir:
		return "directory"
	case File:
		return "file"
	case Symlink:
		return "symlink"
	}
	return "other"
}

// Inode types as stored (basic 1-7, extended 8-14).
const (
	inoDir     = 1
	inoFile    = 2
	inoSymlink = 3
	inoExtDir  = 8
	inoExtFile = 9
	inoExtLink = 10
	maxInoType = 14
)

// maxTarget is the longest symlink target accepted (Linux PATH_MAX).
const maxTarget = 4096

// Inode is a decoded inode.
type Inode struct {
	Type Type
	Mode uint16 // permission bits
	// Size is the length of a file, of a directory's listing, or of a
	// symlink's target.
	Size   uint64
	Target string // symlink target

	dirBlock  uint32 // listing: metadata block, relative to the directory table
	dirOffset uint16 // listing: offset in that block

	blocksStart uint64 // file: position of its first data block
	fragment    uint32 // file: fragment index holding its tail, or noFragment
	fragOffset  uint32 // file: tail offset in the fragment block
	listPos     int64  // file: where its block-size list starts (metadata block)
	listOff     int    // file: and offset in that block
}

// Root returns the root directory.
func (f *FS) Root(ctx context.Context) (Inode, error) {
	ino, err := f.inode(ctx, f.sb.RootInode)
	if err != nil {
		return Inode{}, fmt.Errorf("root inode: %w", err)
	}
	if ino.Type != Dir {
		return Inode{}, fmt.Errorf("%w: root is a %s", ErrCorrupt, ino.Type)
	}
	return ino, nil
}

// inode decodes the inode at ref: metadata block (relative to the inode
// table) in the high bits, offset in that block in the low 16.
func (f *FS) inode(ctx context.Context, ref uint64) (Inode, error) {
	blk, off := ref>>16, int(ref&0xffff)
	if blk >= f.sb.DirTable-f.sb.InodeTable || off >= metaBlockSize {
		return Inode{}, fmt.Errorf("%w: inode reference %#x outside the inode table", ErrCorrupt, ref)
	}
	c, err := f.cursorAt(ctx, int64(f.sb.InodeTable+blk), off)
	if err != nil {
		return Inode{}, err
	}
	var hdr [16]byte
	if err := c.read(ctx, hdr[:]); err != nil {
		return Inode{}, fmt.Errorf("inode %#x: %w", ref, err)
	}
	kind := binary.LittleEndian.Uint16(hdr[0:])
	ino := Inode{Mode: binary.LittleEndian.Uint16(hdr[2:]) & 0o7777}
	switch kind {
	case inoDir, inoExtDir:
		err = f.dirInode(ctx, c, kind, &ino)
	case inoFile, inoExtFile:
		err = f.fileInode(ctx, c, kind, &ino)
	case inoSymlink, inoExtLink:
		err = symlinkInode(ctx, c, &ino)
	default:
		if kind == 0 || kind > maxInoType {
			err = fmt.Errorf("%w: inode type %d", ErrCorrupt, kind)
		}
	}
	if err != nil {
		return Inode{}, fmt.Errorf("inode %#x: %w", ref, err)
	}
	return ino, nil
}

func (f *FS) dirInode(ctx context.Context, c *cursor, kind uint16, ino *Inode) error {
	le := binary.LittleEndian
	ino.Type = Dir
	var size uint64
	if kind == inoDir {
		var b [16]byte // start, nlink, size u16, offset, parent
		if err := c.read(ctx, b[:]); err != nil {
			return err
		}
		ino.dirBlock, size, ino.dirOffset = le.Uint32(b[0:]), uint64(le.Uint16(b[8:])), le.Uint16(b[10:])
	} else {
		var b [24]byte // nlink, size u32, start, parent, index count, offset, xattr
		if err := c.read(ctx, b[:]); err != nil {
			return err
		}
		size, ino.dirBlock, ino.dirOffset = uint64(le.Uint32(b[4:])), le.Uint32(b[8:]), le.Uint16(b[18:])
	}
	// The stored size counts 3 bytes for the "." and ".." entries that the
	// listing does not hold.
	if size > 3 {
		ino.Size = size - 3
	}
	if ino.dirOffset >= metaBlockSize || uint64(ino.dirBlock) >= f.sb.BytesUsed-f.sb.DirTable {
		return fmt.Errorf("%w: listing at block %d offset %d", ErrCorrupt, ino.dirBlock, ino.dirOffset)
	}
	return nil
}

func (f *FS) fileInode(ctx context.Context, c *cursor, kind uint16, ino *Inode) error {
	le := binary.LittleEndian
	ino.Type = File
	if kind == inoFile {
		var b [16]byte // start u32, fragment, offset, size u32
		if err := c.read(ctx, b[:]); err != nil {
			return err
		}
		ino.blocksStart, ino.fragment = uint64(le.Uint32(b[0:])), le.Uint32(b[4:])
		ino.fragOffset, ino.Size = le.Uint32(b[8:]), uint64(le.Uint32(b[12:]))
	} else {
		var b [40]byte // start u64, size u64, sparse, nlink, fragment, offset, xattr
		if err := c.read(ctx, b[:]); err != nil {
			return err
		}
		ino.blocksStart, ino.Size = le.Uint64(b[0:]), le.Uint64(b[8:])
		ino.fragment, ino.fragOffset = le.Uint32(b[28:]), le.Uint32(b[32:])
	}
	if ino.blocksStart > f.sb.BytesUsed {
		return fmt.Errorf("%w: data at %d past the image end", ErrCorrupt, ino.blocksStart)
	}
	if ino.fragment != noFragment && ino.fragOffset >= f.sb.BlockSize {
		return fmt.Errorf("%w: fragment offset %d", ErrCorrupt, ino.fragOffset)
	}
	// The block-size list that follows is read lazily, a few entries at a
	// time, so a forged size cannot make it allocate.
	ino.listPos, ino.listOff = c.position()
	return nil
}

func symlinkInode(ctx context.Context, c *cursor, ino *Inode) error {
	ino.Type = Symlink
	var b [8]byte // nlink, target size
	if err := c.read(ctx, b[:]); err != nil {
		return err
	}
	n := binary.LittleEndian.Uint32(b[4:])
	if n == 0 || n > maxTarget {
		return fmt.Errorf("%w: symlink target of %d bytes", ErrCorrupt, n)
	}
	t := make([]byte, n)
	if err := c.read(ctx, t); err != nil {
		return err
	}
	ino.Size, ino.Target = uint64(n), string(t)
	return nil
}
