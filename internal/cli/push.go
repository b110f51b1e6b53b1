package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/sylabs/sif/v2/pkg/sif"

	"github.com/silo-hpc/silo/internal/client"
)

// `silo push`: Singularity's `push [-U] FILE library://...` and
// sregistry-cli's `push FILE --name collection/container[:tag] [--tag T]`
// (seeds 003 and 004). The server's push rules decide.

func init() {
	register(func(out *Out) []*cobra.Command { return []*cobra.Command{newPushCmd(out)} })
}

type pushOptions struct {
	unsigned    bool
	description string
	name, tag   string
	noHTTPS     bool
	creds       credFlags
}

func newPushCmd(out *Out) *cobra.Command {
	var o pushOptions
	cmd := &cobra.Command{
		Use:   "push [-U] [--description D] FILE URI | push [-U] FILE --name collection/container[:tag] [--tag T]",
		Short: "Upload a SIF image to a library (or an OCI registry with oras://)",
		Args:  cobra.RangeArgs(1, 2),

		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			target, err := pushTarget(&o, args)
			if err != nil {
				return err
			}
			if err := runPush(cmd.Context(), out, &o, args[0], target); err != nil {
				return fmt.Errorf("Unable to push image: %w", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.unsigned, "allow-unsigned", "U", false, "push an image that is not signed")
	f.StringVarP(&o.description, "description", "D", "", "a `DESCRIPTION` of the image")
	f.StringVar(&o.name, "name", "", "where to push: `collection/container[:tag]` (sregistry-cli's form)")
	f.StringVar(&o.tag, "tag", "", "the `TAG` (default latest; overrides the one in --name)")
	f.BoolVar(&o.noHTTPS, "no-https", false, "use plain http for a host named in the URI")
	o.creds.add(cmd)
	return cmd
}

// pushTarget is the destination ref: the URI argument, or --name.
func pushTarget(o *pushOptions, args []string) (client.Ref, error) {
	var raw string
	switch {
	case len(args) == 2 && o.name != "":
		return client.Ref{}, errors.New("give the destination once: as URI or as --name")
	case len(args) == 2:
		raw = args[1]
	case o.name != "":
		raw = o.name
	default:
		return client.Ref{}, errors.New("no destination: give a URI (library://...) or --name collection/container[:tag]")
	}
	ref, err := client.ParseRef(raw)
	if err != nil {
		return ref, err
	}
	if o.tag != "" {
		ref.Tags = []string{o.tag}
	}
	if len(ref.Tags) == 0 {
		ref.Tags = []string{"latest"}
	}
	switch ref.Scheme {
	case client.SchemeLibrary, client.SchemeOras:
		return ref, nil
	}
	return ref, fmt.Errorf("push to %s:// is not supported: push to library:// or oras://", ref.Scheme)
}

// sifFacts is what push reads from the file before sending it.
type sifFacts struct {
	arch   string
	signed bool
	size   int64
}

// readSIF checks that file is a SIF and reads its architecture and
// whether it carries signatures.
func readSIF(file string) (sifFacts, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return sifFacts{}, err
	}
	if !fi.Mode().IsRegular() {
		return sifFacts{}, fmt.Errorf("%s is not a regular file", file)
	}
	f, err := sif.LoadContainerFromPath(file, sif.OptLoadWithFlag(os.O_RDONLY))
	if err != nil {
		return sifFacts{}, fmt.Errorf("%s is not a SIF image: %w", file, err)
	}
	defer f.UnloadContainer()
	sigs, _ := f.GetDescriptors(sif.WithDataType(sif.DataSignature))
	arch := f.PrimaryArch()
	if arch == "unknown" {
		arch = ""
	}
	return sifFacts{arch: arch, signed: len(sigs) > 0, size: fi.Size()}, nil
}

func runPush(ctx context.Context, out *Out, o *pushOptions, file string, ref client.Ref) error {
	facts, err := readSIF(file)
	if err != nil {
		return err
	}
	if !o.unsigned && !facts.signed {
		return fmt.Errorf("%s is not signed: sign it with `singularity sign`, or push it unsigned with -U", file)
	}
	if ref.Scheme == client.SchemeOras {
		warnUnsigned(out, o)
		return pushOras(ctx, out, o, file, facts, ref)
	}
	t, err := openLibrary(ctx, ref, o.noHTTPS)
	if err != nil {
		return err
	}
	if t.lib.Token == "" {
		return errors.New("no authentication token: log in with `silo remote login`")
	}
	warnUnsigned(out, o)
	sum, _, err := fileSHA256(file)
	if err != nil {
		return err
	}
	b := newBar(out)
	if b != nil {
		b.Begin(facts.size, 0)
	}
	res, err := t.lib.Push(ctx, client.Push{File: file, SHA256: sum, Size: facts.size, Path: t.path(ref), Tags: ref.Tags,
		Arch: facts.arch, Description: o.description, Progress: b.wrapper()})
	b.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(out.Stdout, "[Return status %s]\n", res.Status)
	return nil
}

// warnUnsigned says, as Singularity does, that -U skipped verification.
func warnUnsigned(out *Out, o *pushOptions) {
	if o.unsigned {
		out.Warnf("Skipping container verification")
	}
}
