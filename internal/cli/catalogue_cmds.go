package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/silo-hpc/silo/internal/catalogue"
)

// The local catalogue's write commands, as sregistry-cli's (seed 004):
// `add`, `rm`, `rmi`, `mv`.

func newAddCmd(out *Out) *cobra.Command {
	var name string
	var copyFile bool
	cmd := &cobra.Command{
		Use:   "add [--copy] FILE --name collection/container[:tag]",
		Short: "Adopt a local SIF into the catalogue (moved into its storage; --copy copies it)",
		Args:  cobra.ExactArgs(1),

		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if name == "" {
				return errors.New("you must provide an image name: --name collection/container[:tag]")
			}
			return withCatalogue(cmd.Context(), func(cat *catalogue.Catalogue) error {
				return runAdd(cmd.Context(), out, cat, args[0], name, copyFile)
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the image's `collection/container[:tag]`")
	cmd.Flags().BoolVar(&copyFile, "copy", false, "copy the file instead of moving it")
	return cmd
}

func runAdd(ctx context.Context, out *Out, cat *catalogue.Catalogue, file, name string, copyFile bool) error {
	n, err := catalogueName(name)
	if err != nil {
		return err
	}
	if _, err := readSIF(file); err != nil {
		return err
	}
	sum, size, err := fileSHA256(file)
	if err != nil {
		return err
	}
	n.Version = sum
	dest := cat.StoragePath(n)
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	abs, _ := filepath.Abs(file)
	if copyFile {
		err = copyOver(file, dest)
	} else {
		err = moveFile(file, dest)
	}
	if err != nil {
		return fmt.Errorf("cannot place %s in the catalogue: %w", file, err)
	}
	e, created, err := cat.Record(ctx, catalogue.Entry{Name: n, Client: "local", Image: dest, URL: "file://" + abs,
		Source: abs, Size: size})
	if err != nil {
		return err
	}
	action := "update"
	if created {
		action = "new"
	}
	fmt.Fprintf(out.Stdout, "[container][%s] %s\n", action, e.URI())
	return nil
}

// moveFile renames, or copies and removes across file systems.
func moveFile(from, to string) error {
	err := os.Rename(from, to)
	var le *os.LinkError
	if errors.As(err, &le) && errors.Is(le.Err, syscall.EXDEV) {
		if err := copyOver(from, to); err != nil {
			return err
		}
		return os.Remove(from)
	}
	return err
}

// copyOver copies from to a temporary file beside to, then renames it:
// to never holds half a file.
func copyOver(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := to + ".silo-copy"
	dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, to)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

func newRmCmd(out *Out) *cobra.Command {
	return &cobra.Command{
		Use:   "rm URI[@version]",
		Short: "Forget an image in the catalogue (its file stays)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withCatalogue(cmd.Context(), func(cat *catalogue.Catalogue) error {
				e, err := findEntry(cmd.Context(), cat, args[0])
				if err != nil {
					return err
				}
				if err := cat.Remove(cmd.Context(), e.ID); err != nil {
					return err
				}
				out.Infof("[rm] %s", e.Name)
				return nil
			})
		},
	}
}

func newRmiCmd(out *Out) *cobra.Command {
	return &cobra.Command{
		Use:   "rmi URI[@version]",
		Short: "Forget an image in the catalogue and delete its file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withCatalogue(cmd.Context(), func(cat *catalogue.Catalogue) error {
				return runRmi(cmd.Context(), out, cat, args[0])
			})
		},
	}
}

// runRmi forgets the entry, then deletes its file unless another entry
// names the same file.
func runRmi(ctx context.Context, out *Out, cat *catalogue.Catalogue, raw string) error {
	e, err := findEntry(ctx, cat, raw)
	if err != nil {
		return err
	}
	if err := cat.Remove(ctx, e.ID); err != nil {
		return err
	}
	out.Infof("[rmi] %s", e.Name)
	if e.Image == "" {
		return nil
	}
	if n, err := cat.Using(ctx, e.Image); err != nil || n > 0 {
		out.Warnf("%s is kept: another catalogue entry uses it", e.Image)
		return err
	}
	if err := os.Remove(e.Image); errors.Is(err, os.ErrNotExist) {
		out.Warnf("image file %s does not exist on the file system!", e.Image)
	} else if err != nil {
		return err
	}
	return nil
}

func newMvCmd(out *Out) *cobra.Command {
	return &cobra.Command{
		Use:   "mv URI[@version] PATH",
		Short: "Move an image's file (to a directory or a file name) and record where it went",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withCatalogue(cmd.Context(), func(cat *catalogue.Catalogue) error {
				return runMv(cmd.Context(), out, cat, args[0], args[1])
			})
		},
	}
}

// runMv follows sregistry-cli's mv: into PATH when it is a directory,
// else to PATH itself, whose directory must exist.
func runMv(ctx context.Context, out *Out, cat *catalogue.Catalogue, raw, path string) error {
	e, err := findEntry(ctx, cat, raw)
	if err != nil {
		return err
	}
	if e.Image == "" || warnMissing(out, e) {
		return fmt.Errorf("no file to move for %s: pull it again first", e.Name)
	}
	to, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(to); err == nil && fi.IsDir() {
		to = filepath.Join(to, filepath.Base(e.Image))
	} else if _, err := os.Stat(filepath.Dir(to)); err != nil {
		return fmt.Errorf("%s does not exist: create it first", filepath.Dir(to))
	}
	if to == e.Image {
		return fmt.Errorf("%s is already the name", to)
	}
	if err := moveFile(e.Image, to); err != nil {
		return fmt.Errorf("cannot move %s to %s: %w", e.Image, to, err)
	}
	if err := cat.SetImage(ctx, e.ID, to); err != nil {
		return err
	}
	out.Infof("[move] %s => %s", filepath.Base(e.Image), to)
	return nil
}
