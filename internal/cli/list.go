package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/silo-hpc/silo/internal/client"
)

// `silo list`: seed 003's `sregistry list` forms against the active
// remote, with the metadata the server read from each SIF.

func init() {
	register(func(out *Out) []*cobra.Command { return []*cobra.Command{newListCmd(out)} })
}

type listOptions struct {
	env, runscript, test, deffile bool
	signatures                    bool
	json                          bool
}

func newListCmd(out *Out) *cobra.Command {
	var o listOptions
	cmd := &cobra.Command{
		Use:   "list [-e] [-r] [-t] [-d] [-s] [--json] [COLLECTION | COLLECTION/CONTAINER[:TAG] | /CONTAINER]",
		Short: "List the remote's containers: all, a collection's, one container's, or a name across collections",
		Args:  cobra.MaximumNArgs(1),

		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runList(cmd.Context(), out, &o, optionalName(args))
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.env, "env", "e", false, "show each image's environment")
	f.BoolVarP(&o.runscript, "runscript", "r", false, "show each image's runscript")
	f.BoolVarP(&o.test, "test", "t", false, "show each image's test script")
	f.BoolVarP(&o.deffile, "deffile", "d", false, "show each image's definition file")
	f.BoolVarP(&o.signatures, "signatures", "s", false, "show each image's signatures as the server checked them")
	f.BoolVar(&o.json, "json", false, "print JSON")
	return cmd
}

// metadata says whether the rows need what GET /v1/inspect read from
// each SIF; details, whether they are shown one by one (signatures need
// no more than the listing).
func (o *listOptions) metadata() bool { return o.env || o.runscript || o.test || o.deffile }

func (o *listOptions) details() bool { return o.metadata() || o.signatures }

// listQuery reads the argument: "" all; "c" a collection of the default
// entity; "/n" a container name in any collection; "c/n" or "e/c/n",
// each with an optional ":tag".
func listQuery(t *libraryTarget, arg string) (client.ListQuery, string, error) {
	switch {
	case arg == "":
		return client.ListQuery{}, "", nil
	case strings.HasPrefix(arg, "/"):
		name, tag, _ := strings.Cut(arg[1:], ":")
		return client.ListQuery{Container: name}, tag, nil
	case !strings.ContainsAny(arg, "/:"):
		return client.ListQuery{Entity: t.entity, Collection: arg}, "", nil
	}
	ref, err := client.ParseRef(arg)
	if err != nil {
		return client.ListQuery{}, "", err
	}
	e, c, n := splitPath(t.path(ref))
	tag := ""
	if len(ref.Tags) > 0 {
		tag = ref.Tag()
	}
	return client.ListQuery{Entity: e, Collection: c, Container: n}, tag, nil
}

// listedImage is one row of `silo list`, with its metadata when asked.
// Signatures are the server's check of the image's signatures
// (docs/keyserver.md); signed is the SIGNED column.
type listedImage struct {
	searchRow
	Signatures  []client.SignatureCheck `json:"signatures,omitempty"`
	Frozen      bool                    `json:"frozen"`
	Private     bool                    `json:"private"`
	Environment *string                 `json:"environment,omitempty"`
	Runscript   *string                 `json:"runscript,omitempty"`
	Test        *string                 `json:"test,omitempty"`
	Deffile     *string                 `json:"deffile,omitempty"`

	signed         string
	signatureLines []string
}

func runList(ctx context.Context, out *Out, o *listOptions, arg string) error {
	t, err := openLibrary(ctx, client.Ref{}, false)
	if err != nil {
		return err
	}
	q, tag, err := listQuery(t, arg)
	if err != nil {
		return err
	}
	cons, err := t.lib.ListContainers(ctx, q)
	if client.IsNotFound(err) {
		return fmt.Errorf("%s not found", arg)
	}
	if err != nil {
		return fmt.Errorf("while listing: %w", err)
	}
	var rows []listedImage
	for _, k := range cons {
		for _, kt := range k.Tags {
			img, ok := k.ImageByID(kt.ImageID)
			if !ok || tag != "" && kt.Tag != tag {
				continue
			}
			rows = append(rows, listedImage{searchRow: t.row(img, k.Entity, k.Collection, k.Container, kt.Tag),
				Signatures: img.Signatures, Frozen: k.Frozen, Private: k.Private,
				signed: signatureState(img), signatureLines: signatureLines(img)})
		}
	}
	if o.metadata() {
		if err := addMetadata(ctx, t, o, rows); err != nil {
			return err
		}
	}
	if o.json {
		return printJSON(out, rows)
	}
	if len(rows) == 0 {
		out.Infof("No containers found.")
		return nil
	}
	if o.details() {
		printMetadata(out, o, rows)
		return nil
	}
	printList(out, rows)
	return nil
}

func printList(out *Out, rows []listedImage) {
	tw := tabwriter.NewWriter(out.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTAG\tARCH\tSIZE\tCREATED\tSIGNED\tFROZEN\tPRIVATE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.name, r.Tag, dash(r.Arch), humanSize(r.Size),
			r.Created.Local().Format("2006-01-02 15:04:05"), r.signed, yesNo(r.Frozen), yesNo(r.Private))
	}
	tw.Flush()
}

// addMetadata fills each row with what GET /v1/inspect read from its SIF.
func addMetadata(ctx context.Context, t *libraryTarget, o *listOptions, rows []listedImage) error {
	for i := range rows {
		r := &rows[i]
		in, err := t.lib.Inspect(ctx, r.Entity+"/"+r.Collection+"/"+r.Container+":"+r.Hash, r.Arch)
		if err != nil {
			return fmt.Errorf("while reading the metadata of %s:%s: %w", r.name, r.Tag, err)
		}
		set := func(on bool, v string, dst **string) {
			if on {
				*dst = &v
			}
		}
		set(o.env, in.Environment(), &r.Environment)
		set(o.runscript, in.Inspection.Runscript, &r.Runscript)
		set(o.test, in.Inspection.Test, &r.Test)
		set(o.deffile, in.Definition(), &r.Deffile)
	}
	return nil
}

// printMetadata shows each image's requested scripts under its name, in
// the "=== file ===" form of `singularity inspect`.
func printMetadata(out *Out, o *listOptions, rows []listedImage) {
	for _, r := range rows {
		fmt.Fprintf(out.Stdout, "%s:%s\n", r.name, r.Tag)
		if r.Environment != nil {
			section(out, "", *r.Environment)
		}
		if r.Runscript != nil {
			section(out, "/.singularity.d/runscript", *r.Runscript)
		}
		if r.Test != nil {
			section(out, "/.singularity.d/test", *r.Test)
		}
		if r.Deffile != nil {
			section(out, "Singularity (definition file)", *r.Deffile)
		}
		if o.signatures {
			section(out, "signatures", strings.Join(r.signatureLines, "\n"))
		}
	}
}

func section(out *Out, title, body string) {
	if title != "" {
		fmt.Fprintf(out.Stdout, "=== %s ===\n", title)
	}
	if body == "" {
		body = "(none)\n"
	}
	if !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	fmt.Fprint(out.Stdout, body)
	if title != "" {
		fmt.Fprintln(out.Stdout)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// humanSize is a size in IEC units, as Singularity's progress shows them.
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
