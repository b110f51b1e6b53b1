package squashfs

import (
	"context"
	"encoding/binary"
	"fmt"
	"io/fs"
)

// Data block size words: bit 24 set means stored uncompressed, the low 24
// bits are the stored length, and 0 is a block of zeros not stored at all.
const (
	blockUncompressed = 1 << 24
	blockLenMask      = blockUncompressed - 1
)

// ReadFile returns the first max bytes of the regular file ino; truncated
// says the file is longer. Only the blocks those bytes need are read, so a
// file claiming terabytes costs what max costs.
func (f *FS) ReadFile(ctx context.Context, ino Inode, max int) (data []byte, truncated bool, err error) {
	if ino.Type != File {
		return nil, false, fmt.Errorf("%w: not a regular file", fs.ErrInvalid)
	}
	want := ino.Size
	if truncated = want > uint64(max); truncated {
		want = uint64(max)
	}
	out := make([]byte, 0, want)
	bs := uint64(f.sb.BlockSize)
	// Blocks in the list: every whole block, and the tail too when it is
	// not kept in a fragment.
	listed := ino.Size / bs
	if ino.fragment == noFragment && ino.Size%bs != 0 {
		listed++
	}
	if uint64(len(out)) < want && listed > 0 {
		if out, err = f.readBlocks(ctx, ino, out, want, listed); err != nil {
			return nil, false, err
		}
	}
	if uint64(len(out)) < want {
		if ino.fragment == noFragment {
			return nil, false, fmt.Errorf("%w: file data ends at %d of %d bytes", ErrCorrupt, len(out), want)
		}
		if out, err = f.readTail(ctx, ino, out, want); err != nil {
			return nil, false, err
		}
	}
	return out, truncated, nil
}

// readBlocks appends the listed data blocks to out until it holds want
// bytes, reading the block-size list as it goes.
func (f *FS) readBlocks(ctx context.Context, ino Inode, out []byte, want, listed uint64) ([]byte, error) {
	c, err := f.cursorAt(ctx, ino.listPos, ino.listOff)
	if err != nil {
		return nil, fmt.Errorf("block list: %w", err)
	}
	bs := uint64(f.sb.BlockSize)
	pos := ino.blocksStart
	var word [4]byte
	for i := uint64(0); i < listed && uint64(len(out)) < want; i++ {
		if err := c.read(ctx, word[:]); err != nil {
			return nil, fmt.Errorf("block list: %w", err)
		}
		sw := binary.LittleEndian.Uint32(word[:])
		// This block's length in the file: whole, or the tail.
		n := min(bs, ino.Size-i*bs)
		block, err := f.dataBlock(ctx, pos, sw, int(n))
		if err != nil {
			return nil, fmt.Errorf("data block %d: %w", i, err)
		}
		out = append(out, block[:min(n, want-uint64(len(out)))]...)
		pos += uint64(sw & blockLenMask)
	}
	return out, nil
}

// dataBlock returns the n bytes of the data (or fragment) block stored at
// pos with size word sw. The slice is only valid until the next call.
func (f *FS) dataBlock(ctx context.Context, pos uint64, sw uint32, n int) ([]byte, error) {
	stored := int(sw & blockLenMask)
	if sw&^(blockUncompressed|blockLenMask) != 0 || stored > int(f.sb.BlockSize) {
		return nil, fmt.Errorf("%w: block size word %#x", ErrCorrupt, sw)
	}
	bs := int(f.sb.BlockSize)
	if cap(f.scratch) < 2*bs {
		f.scratch = make([]byte, 2*bs)
	}
	raw, out := f.scratch[:stored], f.scratch[bs:2*bs]
	if stored == 0 { // a hole: zeros, nothing stored
		clear(out[:n])
		return out[:n], f.spend(n)
	}
	if pos > f.sb.BytesUsed {
		return nil, fmt.Errorf("%w: block at %d past the image end", ErrCorrupt, pos)
	}
	if err := f.readAt(ctx, raw, int64(pos)); err != nil {
		return nil, err
	}
	got := stored
	if sw&blockUncompressed == 0 {
		var err error
		if got, err = f.dec.decode(out, raw); err != nil {
			return nil, err
		}
	} else {
		copy(out, raw)
	}
	if got < n {
		return nil, fmt.Errorf("%w: block holds %d bytes, want %d", ErrCorrupt, got, n)
	}
	return out[:n], f.spend(got)
}

// readTail appends the file's tail from its fragment block.
func (f *FS) readTail(ctx context.Context, ino Inode, out []byte, want uint64) ([]byte, error) {
	start, sw, err := f.fragmentEntry(ctx, ino.fragment)
	if err != nil {
		return nil, err
	}
	tail := ino.Size % uint64(f.sb.BlockSize)
	end := uint64(ino.fragOffset) + tail
	if tail == 0 || end > uint64(f.sb.BlockSize) {
		return nil, fmt.Errorf("%w: tail of %d bytes at fragment offset %d", ErrCorrupt, tail, ino.fragOffset)
	}
	block, err := f.dataBlock(ctx, start, sw, int(end))
	if err != nil {
		return nil, fmt.Errorf("fragment %d: %w", ino.fragment, err)
	}
	need := want - uint64(len(out))
	return append(out, block[ino.fragOffset:uint64(ino.fragOffset)+min(tail, need)]...), nil
}

// fragmentEntry finds fragment idx: the fragment table is a list of
// positions of metadata blocks, each holding 512 entries of 16 bytes
// (position u64, size word u32, unused u32).
func (f *FS) fragmentEntry(ctx context.Context, idx uint32) (uint64, uint32, error) {
	if idx >= f.sb.Fragments {
		return 0, 0, fmt.Errorf("%w: fragment %d of %d", ErrCorrupt, idx, f.sb.Fragments)
	}
	const perBlock = metaBlockSize / 16
	var p [8]byte
	if err := f.readAt(ctx, p[:], int64(f.sb.FragmentTable)+int64(idx/perBlock)*8); err != nil {
		return 0, 0, fmt.Errorf("fragment table: %w", err)
	}
	c, err := f.cursorAt(ctx, int64(binary.LittleEndian.Uint64(p[:])), int(idx%perBlock)*16)
	if err != nil {
		return 0, 0, fmt.Errorf("fragment table: %w", err)
	}
	var e [16]byte
	if err := c.read(ctx, e[:]); err != nil {
		return 0, 0, fmt.Errorf("fragment %d: %w", idx, err)
	}
	return binary.LittleEndian.Uint64(e[0:]), binary.LittleEndian.Uint32(e[8:]), nil
}
