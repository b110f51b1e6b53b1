package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/silo-hpc/silo/internal/client"
)

// `silo delete` and `silo labels`: sregistry-cli's remote commands
// (seeds 003 and 004) over the Library API.

func init() {
	register(func(out *Out) []*cobra.Command { return []*cobra.Command{newDeleteCmd(out), newLabelsCmd(out)} })
}

func newDeleteCmd(out *Out) *cobra.Command {
	var force, noHTTPS bool
	var arch string
	cmd := &cobra.Command{
		Use:   "delete [--force] [--arch A] URI",
		Short: "Delete an image from the remote (asks yes/no unless --force)",
		Args:  cobra.ExactArgs(1),

		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := client.ParseRef(args[0])
			if err != nil {
				return err
			}
			if ref.Scheme != client.SchemeLibrary {
				return fmt.Errorf("delete works on library images, not %s://", ref.Scheme)
			}
			return runDelete(cmd.Context(), out, ref, arch, force, noHTTPS)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&force, "force", "f", false, "do not ask before deleting")
	f.StringVar(&arch, "arch", runtime.GOARCH, "architecture of the image to delete")
	f.BoolVar(&noHTTPS, "no-https", false, "use plain http for a host named in the URI")
	return cmd
}

func runDelete(ctx context.Context, out *Out, ref client.Ref, arch string, force, noHTTPS bool) error {
	t, err := openLibrary(ctx, ref, noHTTPS)
	if err != nil {
		return err
	}
	path := t.path(ref)
	e, c, n := splitPath(path)
	shown := t.short(e, c, n) + ":" + ref.Tag()
	if !force {
		yes, err := confirm(out, fmt.Sprintf("Are you sure you want to remove %s?", shown))
		if err != nil {
			return err
		}
		if !yes {
			out.Infof("Delete cancelled.")
			return nil
		}
	}
	if err := t.lib.DeleteImage(ctx, path+":"+ref.Tag(), arch); err != nil {
		if client.IsNotFound(err) {
			return fmt.Errorf("Unable to delete image: %s (%s) not found", t.uri(path, ref.Tag()), arch)
		}
		return fmt.Errorf("Unable to delete image: %w", err)
	}
	out.Infof("Image %s deleted.", t.uri(path, ref.Tag()))
	return nil
}

// confirm asks question until the answer starts with y or n, as
// sregistry-cli's confirm_action does; the end of input is a no.
func confirm(out *Out, question string) (bool, error) {
	fmt.Fprint(out.Stderr, question+" ")
	for {
		answer, eof, err := readAnswer(out.Stdin)
		if !isTerminal(out.Stdin) {
			// Nothing echoed the answer's newline: end the prompt's line.
			fmt.Fprintln(out.Stderr)
		}
		if err != nil {
			return false, fmt.Errorf("while reading input: %w", err)
		}
		a := strings.ToLower(strings.TrimSpace(answer))
		switch {
		case strings.HasPrefix(a, "y"):
			return true, nil
		case strings.HasPrefix(a, "n"), eof:
			return false, nil
		}
		fmt.Fprint(out.Stderr, "Please answer yes or no: ")
	}
}

// readAnswer reads one line a byte at a time (what follows stays for the
// next question) and says whether input ended.
func readAnswer(r io.Reader) (string, bool, error) {
	if r == nil {
		return "", true, nil
	}
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := r.Read(b)
		if n == 1 {
			if b[0] == '\n' {
				return string(line), false, nil
			}
			line = append(line, b[0])
		}
		if errors.Is(err, io.EOF) {
			return string(line), true, nil
		}
		if err != nil {
			return "", false, err
		}
	}
}

func newLabelsCmd(out *Out) *cobra.Command {
	var key, value string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "labels [--key K] [--value V] [--json]",
		Short: "List the labels of the remote's images: all, by key, by value, or both",
		Args:  cobra.NoArgs,

		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLabels(cmd.Context(), out, key, value, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&key, "key", "k", "", "only labels with this `KEY`")
	f.StringVarP(&value, "value", "v", "", "only labels with this `VALUE`")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// labelGroup is one key:value and the containers carrying it.
type labelGroup struct {
	Key        string   `json:"key"`
	Value      string   `json:"value"`
	Containers []string `json:"containers"`
}

// runLabels prints sregistry-cli's label table (its label_search):
// "N=<count>  key:value" rows for all labels, and for a key or value
// search each key:value followed by its containers.
func runLabels(ctx context.Context, out *Out, key, value string, asJSON bool) error {
	t, err := openLibrary(ctx, client.Ref{}, false)
	if err != nil {
		return err
	}
	rows, err := t.lib.Labels(ctx, key, value)
	if err != nil {
		return fmt.Errorf("while listing labels: %w", err)
	}
	var groups []labelGroup
	for _, r := range rows {
		if n := len(groups); n == 0 || groups[n-1].Key != r.Key || groups[n-1].Value != r.Value {
			groups = append(groups, labelGroup{Key: r.Key, Value: r.Value})
		}
		e, c, n := splitPath(r.Container)
		g := &groups[len(groups)-1]
		g.Containers = append(g.Containers, t.short(e, c, n))
	}
	for _, g := range groups {
		sort.Strings(g.Containers)
	}
	if asJSON {
		return printJSON(out, groups)
	}
	if len(groups) == 0 {
		out.Infof("No labels found.")
		return nil
	}
	fmt.Fprint(out.Stdout, "Labels\n\n")
	printTable(out, groups, func(g labelGroup) []string {
		if key == "" && value == "" {
			return []string{fmt.Sprintf("N=%d", len(g.Containers)), g.Key + ":" + g.Value}
		}
		return []string{g.Key + ":" + g.Value, "\n" + strings.Join(g.Containers, "\n") + "\n\n"}
	})
	return nil
}
