// Package squashfs reads a few files from a SquashFS 4.0 image held in an
// io.ReaderAt, for images that nobody trusts.
//
// It is deliberately small: it resolves one path component at a time, reads
// a directory listing, a symlink target and the first bytes of a regular
// file, and nothing else (no xattrs, no export or id tables, no writing).
// Every read goes through one place that checks the caller's context and
// two budgets (bytes read from the image, bytes produced by decompression);
// every decompression writes into a buffer sized by the format's own limits
// (8 KiB for metadata, the block size for data); every count taken from the
// image is checked against what the image can hold before anything is
// allocated for it. Memory therefore stays flat whatever the image claims.
//
// Symlinks are reported, never followed: which links may be followed is the
// caller's policy (package sifinspect confines them to /.singularity.d).
//
// An FS is not safe for concurrent use.
package squashfs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

var (
	// ErrNotSquashfs means the bytes do not start with a SquashFS 4.0
	// superblock.
	ErrNotSquashfs = errors.New("not a squashfs 4.0 image")
	// ErrCorrupt means the image contradicts itself or the format.
	ErrCorrupt = errors.New("corrupt squashfs image")
	// ErrBudget means a read or decompression budget ran out.
	ErrBudget = errors.New("squashfs read budget exhausted")
	// ErrUnsupported means a valid feature this reader does not implement
	// (the legacy lzma compressor).
	ErrUnsupported = errors.New("unsupported squashfs feature")
)

const (
	superblockSize = 96
	magic          = 0x73717368 // "hsqs"
	metaBlockSize  = 8192
	minBlockLog    = 12 // 4 KiB
	maxBlockLog    = 20 // 1 MiB
	noFragment     = 0xffffffff
)

// Limits bound the work one FS may do. Zero fields take the defaults.
type Limits struct {
	// MaxRead bounds the bytes read from the image (default 64 MiB).
	MaxRead int64
	// MaxDecoded bounds the bytes produced by decompression (default 256 MiB).
	MaxDecoded int64
	// MaxDirEntries bounds the entries scanned in one directory listing
	// (default 65536).
	MaxDirEntries int
}

func (l Limits) withDefaults() Limits {
	if l.MaxRead <= 0 {
		l.MaxRead = 64 << 20
	}
	if l.MaxDecoded <= 0 {
		l.MaxDecoded = 256 << 20
	}
	if l.MaxDirEntries <= 0 {
		l.MaxDirEntries = 1 << 16
	}
	return l
}

// Superblock is the part of the SquashFS superblock this reader uses.
type Superblock struct {
	Inodes        uint32
	ModTime       uint32
	BlockSize     uint32
	Fragments     uint32
	Compression   Compression
	BlockLog      uint16
	Flags         uint16
	RootInode     uint64
	BytesUsed     uint64
	InodeTable    uint64
	DirTable      uint64
	FragmentTable uint64
}

// FS is an opened image.
type FS struct {
	r       io.ReaderAt
	sb      Superblock
	lim     Limits
	read    int64 // bytes read so far, against lim.MaxRead
	decoded int64 // bytes decompressed so far, against lim.MaxDecoded
	dec     *decoder
	cache   metaCache
	scratch []byte // raw data blocks, reused
}

// Open reads and checks the superblock of the image in r, which holds size
// bytes.
func Open(ctx context.Context, r io.ReaderAt, size int64, lim Limits) (*FS, error) {
	f := &FS{r: r, lim: lim.withDefaults()}
	var b [superblockSize]byte
	if size < superblockSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrNotSquashfs, size)
	}
	// The image end is not known yet; the superblock itself is in range.
	f.sb.BytesUsed = superblockSize
	if err := f.readAt(ctx, b[:], 0); err != nil {
		return nil, fmt.Errorf("reading superblock: %w", err)
	}
	sb, err := parseSuperblock(b[:], size)
	if err != nil {
		return nil, err
	}
	f.sb = sb
	f.dec, err = newDecoder(sb.Compression, sb.BlockSize)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Superblock returns the checked superblock.
func (f *FS) Superblock() Superblock { return f.sb }

func parseSuperblock(b []byte, size int64) (Superblock, error) {
	le := binary.LittleEndian
	if le.Uint32(b[0:]) != magic {
		return Superblock{}, ErrNotSquashfs
	}
	if major, minor := le.Uint16(b[28:]), le.Uint16(b[30:]); major != 4 || minor != 0 {
		return Superblock{}, fmt.Errorf("%w: version %d.%d", ErrNotSquashfs, major, minor)
	}
	sb := Superblock{
		Inodes:        le.Uint32(b[4:]),
		ModTime:       le.Uint32(b[8:]),
		BlockSize:     le.Uint32(b[12:]),
		Fragments:     le.Uint32(b[16:]),
		Compression:   Compression(le.Uint16(b[20:])),
		BlockLog:      le.Uint16(b[22:]),
		Flags:         le.Uint16(b[24:]),
		RootInode:     le.Uint64(b[32:]),
		BytesUsed:     le.Uint64(b[40:]),
		InodeTable:    le.Uint64(b[64:]),
		DirTable:      le.Uint64(b[72:]),
		FragmentTable: le.Uint64(b[80:]),
	}
	if sb.BlockLog < minBlockLog || sb.BlockLog > maxBlockLog || sb.BlockSize != 1<<sb.BlockLog {
		return Superblock{}, fmt.Errorf("%w: block size %d, log %d", ErrCorrupt, sb.BlockSize, sb.BlockLog)
	}
	// The tables follow each other in this order; anything else is forged.
	if sb.BytesUsed > uint64(size) || sb.BytesUsed < superblockSize ||
		sb.InodeTable < superblockSize || sb.InodeTable >= sb.DirTable || sb.DirTable >= sb.BytesUsed {
		return Superblock{}, fmt.Errorf("%w: tables at inode %d, dir %d, end %d of %d",
			ErrCorrupt, sb.InodeTable, sb.DirTable, sb.BytesUsed, size)
	}
	if sb.RootInode>>16 >= sb.DirTable-sb.InodeTable || sb.RootInode&0xffff >= metaBlockSize {
		return Superblock{}, fmt.Errorf("%w: root inode reference %#x", ErrCorrupt, sb.RootInode)
	}
	return sb, nil
}

// readAt is the only way bytes leave the image: it checks the context, the
// image end and the read budget first.
func (f *FS) readAt(ctx context.Context, p []byte, off int64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("reading squashfs: %w", err)
	}
	end := int64(f.sb.BytesUsed)
	if off < 0 || off > end || int64(len(p)) > end-off {
		return fmt.Errorf("%w: %d bytes at %d past the image end %d", ErrCorrupt, len(p), off, end)
	}
	f.read += int64(len(p))
	if f.read > f.lim.MaxRead {
		return fmt.Errorf("%w: read more than %d bytes", ErrBudget, f.lim.MaxRead)
	}
	n, err := f.r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("reading %d bytes at %d: %w", len(p), off, err)
}

// spend counts decompressed bytes against the budget.
func (f *FS) spend(n int) error {
	f.decoded += int64(n)
	if f.decoded > f.lim.MaxDecoded {
		return fmt.Errorf("%w: decompressed more than %d bytes", ErrBudget, f.lim.MaxDecoded)
	}
	return nil
}

// Close releases the decompressors' resources. The ReaderAt is the
// caller's.
func (f *FS) Close() { f.dec.close() }
