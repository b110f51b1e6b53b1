package sifinspect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"

	"github.com/sylabs/sif/v2/pkg/sif"

	"github.com/silo-hpc/silo/internal/sifinspect/squashfs"
)

// partition is where the primary partition lies in the SIF.
type partition struct {
	fs           sif.FSType
	offset, size int64
}

// singularityDir holds everything read from the root file system; symlinks
// are followed only while they stay inside it.
const singularityDir = "/.singularity.d"

// Files read from singularityDir, and the Inspection field each fills.
func (in *inspector) rootFiles() map[string]*string {
	return map[string]*string{
		singularityDir + "/runscript":   &in.ins.Runscript,
		singularityDir + "/startscript": &in.ins.Startscript,
		singularityDir + "/test":        &in.ins.Test,
		singularityDir + "/Singularity": &in.ins.DefinitionBuilt,
	}
}

// readRootFS reads the metadata files of the primary squashfs partition.
func (in *inspector) readRootFS(ctx context.Context, r io.ReaderAt) error {
	p := in.primary
	switch {
	case p == nil:
		return errors.New("the image has no primary system partition")
	case p.fs != sif.FsSquash:
		return fmt.Errorf("the partition is %s, not squashfs; its files are not read", p.fs)
	case !in.inside(p.offset, p.size):
		return fmt.Errorf("partition of %d bytes at %d lies outside the %d-byte image", p.size, p.offset, in.size)
	}
	total := int64(in.opts.MaxTotalSize)
	fsys, err := squashfs.Open(ctx, io.NewSectionReader(r, p.offset, p.size), p.size, squashfs.Limits{
		// Contents, plus the metadata and fragment blocks they need.
		MaxRead:    2*total + 16<<20,
		MaxDecoded: 4*total + 32<<20,
	})
	if err != nil {
		return err
	}
	defer fsys.Close()
	in.ins.Header.PrimaryCompression = fsys.Superblock().Compression.String()
	rf := rootFS{fs: fsys}
	paths := in.rootFiles()
	for _, name := range sortedKeys(paths) {
		*paths[name] = in.readFile(ctx, rf, name)
	}
	labels := singularityDir + "/labels.json"
	if b := in.readFile(ctx, rf, labels); b != "" {
		if in.ins.ImageLabels, err = decodeLabels([]byte(b)); err != nil {
			in.warn("%s: %v", labels, err)
		}
	}
	in.readEnv(ctx, rf)
	return nil
}

// readFile reads one file within the allowance; a missing file is empty.
func (in *inspector) readFile(ctx context.Context, rf rootFS, name string) string {
	ino, err := rf.resolve(ctx, name)
	if err == nil && ino.Type != squashfs.File {
		err = fmt.Errorf("a %s, not a file", ino.Type)
	}
	var b []byte
	truncated := false
	if err == nil {
		b, truncated, err = rf.fs.ReadFile(ctx, ino, in.allowance())
	}
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			in.warn("%s: %v", name, err)
		}
		return ""
	}
	in.took(name, len(b), truncated)
	return string(b)
}

// readEnv reads every regular file of /.singularity.d/env, sorted by name.
func (in *inspector) readEnv(ctx context.Context, rf rootFS) {
	dir := singularityDir + "/env"
	in.ins.Environment = []EnvFile{}
	ino, err := rf.resolve(ctx, dir)
	if err == nil && ino.Type != squashfs.Dir {
		err = fmt.Errorf("a %s, not a directory", ino.Type)
	}
	var ents []squashfs.DirEntry
	more := false
	if err == nil {
		ents, more, err = rf.fs.ReadDir(ctx, ino, in.opts.MaxEnvFiles)
	}
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			in.warn("%s: %v", dir, err)
		}
		return
	}
	if more {
		in.warn("%s: more than %d entries; the rest are not read", dir, in.opts.MaxEnvFiles)
		in.ins.Truncated = append(in.ins.Truncated, dir)
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name < ents[j].Name })
	for _, e := range ents {
		if e.Type == squashfs.Dir || e.Name == "." || e.Name == ".." || strings.Contains(e.Name, "/") {
			continue
		}
		p := dir + "/" + e.Name
		if ino, err := rf.resolve(ctx, p); err == nil && ino.Type != squashfs.File {
			continue // a link to a directory, a device: nothing to source
		}
		in.ins.Environment = append(in.ins.Environment, EnvFile{Name: e.Name, Content: in.readFile(ctx, rf, p)})
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// mergeLabels builds Labels: labels.json, then the SIF labels object.
func (in *inspector) mergeLabels() {
	in.ins.Labels = make(map[string]string, len(in.ins.ImageLabels)+len(in.ins.SIFLabels))
	for k, v := range in.ins.ImageLabels {
		in.ins.Labels[k] = v
	}
	for k, v := range in.ins.SIFLabels {
		in.ins.Labels[k] = v
	}
}
