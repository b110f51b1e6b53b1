package squashfs

import (
	"context"
	"encoding/binary"
	"fmt"
)

// metaCacheSize is how many decoded metadata blocks are kept: a lookup
// touches the root's and a few directories' inode and listing blocks again
// and again, and 16 of 8 KiB cost at most 128 KiB.
const metaCacheSize = 16

type metaEntry struct {
	pos  int64
	next int64
	data []byte
}

// metaCache is a small ring of decoded metadata blocks keyed by position.
type metaCache struct {
	entries [metaCacheSize]metaEntry
	n       int // insertions so far; the ring index is n % metaCacheSize
}

func (c *metaCache) get(pos int64) (metaEntry, bool) {
	for _, e := range c.entries {
		if e.data != nil && e.pos == pos {
			return e, true
		}
	}
	return metaEntry{}, false
}

func (c *metaCache) put(e metaEntry) {
	c.entries[c.n%metaCacheSize] = e
	c.n++
}

// metaBlock reads the metadata block at pos: a 2-byte header (bit 15 set
// means stored uncompressed, the rest is the stored length) and at most
// 8 KiB of data once decoded.
func (f *FS) metaBlock(ctx context.Context, pos int64) (metaEntry, error) {
	if e, ok := f.cache.get(pos); ok {
		return e, nil
	}
	var hdr [2]byte
	if err := f.readAt(ctx, hdr[:], pos); err != nil {
		return metaEntry{}, fmt.Errorf("metadata block header: %w", err)
	}
	h := binary.LittleEndian.Uint16(hdr[:])
	n := int(h & 0x7fff)
	if n == 0 || n > metaBlockSize {
		return metaEntry{}, fmt.Errorf("%w: metadata block at %d stores %d bytes", ErrCorrupt, pos, n)
	}
	raw := make([]byte, n)
	if err := f.readAt(ctx, raw, pos+2); err != nil {
		return metaEntry{}, fmt.Errorf("metadata block: %w", err)
	}
	data := raw
	if h&0x8000 == 0 {
		data = make([]byte, metaBlockSize)
		m, err := f.dec.decode(data, raw)
		if err != nil {
			return metaEntry{}, fmt.Errorf("metadata block at %d: %w", pos, err)
		}
		data = data[:m]
	}
	if err := f.spend(len(data)); err != nil {
		return metaEntry{}, err
	}
	e := metaEntry{pos: pos, next: pos + 2 + int64(n), data: data}
	f.cache.put(e)
	return e, nil
}

// cursor reads a stream of metadata that may run across blocks. Blocks
// follow each other on disk, so a cursor only moves forward and every step
// costs read budget: it cannot loop.
type cursor struct {
	f   *FS
	blk metaEntry
	off int
}

// cursorAt starts reading at byte off of the decoded block at pos.
func (f *FS) cursorAt(ctx context.Context, pos int64, off int) (*cursor, error) {
	blk, err := f.metaBlock(ctx, pos)
	if err != nil {
		return nil, err
	}
	if off < 0 || off > len(blk.data) {
		return nil, fmt.Errorf("%w: offset %d in a %d-byte metadata block", ErrCorrupt, off, len(blk.data))
	}
	return &cursor{f: f, blk: blk, off: off}, nil
}

// read fills p, moving on to the next blocks as needed.
func (c *cursor) read(ctx context.Context, p []byte) error {
	for len(p) > 0 {
		if c.off == len(c.blk.data) {
			next, err := c.f.metaBlock(ctx, c.blk.next)
			if err != nil {
				return err
			}
			c.blk, c.off = next, 0
			continue
		}
		n := copy(p, c.blk.data[c.off:])
		c.off += n
		p = p[n:]
	}
	return nil
}

// skip moves forward n bytes without keeping them.
func (c *cursor) skip(ctx context.Context, n int) error {
	var buf [256]byte
	for n > 0 {
		m := min(n, len(buf))
		if err := c.read(ctx, buf[:m]); err != nil {
			return err
		}
		n -= m
	}
	return nil
}

// position says where the cursor is, to come back later.
func (c *cursor) position() (int64, int) { return c.blk.pos, c.off }
