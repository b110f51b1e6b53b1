// Package sifinspect reads what a registry wants to show about a SIF image
// (header, signatures, definition file, labels, and the runscript,
// environment and other metadata files of /.singularity.d) without mounting
// it, without external programs, and without trusting it.
//
// The SIF container is read with sylabs/sif/v2, after a guard on the
// descriptor count. The primary squashfs partition is read with this
// package's own minimal reader (package squashfs below it) rather than a
// third-party one: every pure-Go reader evaluated (docs/sif-inspection.md)
// decompresses without an output bound, allocates from header counts
// (block lists, symlink targets, whole directories or tables) or reads the
// whole file into memory, and none of that can be fixed from outside with a
// bounded ReaderAt, since the allocation happens inside the library after a
// small read. Reading a few files by path needs only the superblock, the
// inode and directory tables, the fragment table and some data blocks,
// which is a few hundred lines that can bound everything.
//
// Bounds, per image: a time cap (Options.Timeout), a cap per file and on
// all file contents together (a cut file is named in Truncated), read and
// decompression budgets, a cap on directory entries, symlinks followed only
// inside /.singularity.d and only a few times, and a recover that turns a
// panic in a dependency into an error.
package sifinspect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

var (
	// ErrNotSIF means the input is not a SIF image at all.
	ErrNotSIF = errors.New("not a SIF image")
	// ErrMalformed means the input claims to be a SIF but cannot be read
	// as one (corrupt, truncated, or over a limit).
	ErrMalformed = errors.New("malformed SIF image")
)

// Options bound one inspection. Zero fields take the defaults.
type Options struct {
	// Timeout caps the time spent on one image (default 2 s).
	Timeout time.Duration
	// MaxFileSize caps each file or object read (default 1 MiB).
	MaxFileSize int
	// MaxTotalSize caps all contents read together (default 8 MiB).
	MaxTotalSize int
	// MaxEnvFiles caps the files read from /.singularity.d/env (default 64).
	MaxEnvFiles int
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = 1 << 20
	}
	if o.MaxTotalSize <= 0 {
		o.MaxTotalSize = 8 << 20
	}
	if o.MaxEnvFiles <= 0 {
		o.MaxEnvFiles = 64
	}
	return o
}

// Inspect reads the SIF image of size bytes in r. It reads the header, the
// descriptor table, small objects and, from the primary squashfs partition,
// the superblock, some inode and directory blocks and the few files wanted;
// never a whole partition.
//
// A non-SIF input is ErrNotSIF; a SIF whose header or descriptors cannot be
// read is ErrMalformed. A SIF whose partition cannot be read still returns
// everything else, with the reason in Warnings.
func Inspect(ctx context.Context, r io.ReaderAt, size int64, opts Options) (ins *Inspection, err error) {
	opts = opts.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	// The readers below are written not to panic; this is for the
	// dependencies, which were not written for hostile input.
	defer func() {
		if p := recover(); p != nil {
			ins, err = nil, fmt.Errorf("%w: reader panicked: %v", ErrMalformed, p)
		}
	}()
	in := &inspector{opts: opts, budget: opts.MaxTotalSize, ins: &Inspection{}, size: size}
	if err := in.readSIF(ctx, r, size); err != nil {
		return nil, err
	}
	if err := in.readRootFS(ctx, r); err != nil {
		in.warn("reading the primary partition: %v", err)
	}
	in.mergeLabels()
	return in.ins, nil
}

// inspector carries one inspection's state.
type inspector struct {
	opts    Options
	budget  int // bytes of content still allowed
	ins     *Inspection
	primary *partition // the first primary system partition
	size    int64      // of the whole image
}

func (in *inspector) warn(format string, args ...any) {
	in.ins.Warnings = append(in.ins.Warnings, fmt.Sprintf(format, args...))
}

// allowance is how many bytes the next file may have.
func (in *inspector) allowance() int {
	return max(0, min(in.opts.MaxFileSize, in.budget))
}

// took records content read for what (a name for Truncated).
func (in *inspector) took(what string, n int, truncated bool) {
	in.budget -= n
	if truncated {
		in.ins.Truncated = append(in.ins.Truncated, what)
	}
}

// inside says whether n bytes at off lie within the image.
func (in *inspector) inside(off, n int64) bool {
	return off >= 0 && n >= 0 && off <= in.size && n <= in.size-off
}
