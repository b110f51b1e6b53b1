package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/silo-hpc/silo/internal/catalogue"
	"github.com/silo-hpc/silo/internal/client"
)

// The local catalogue's read commands, as sregistry-cli's (seed 004):
// `images`, `inspect`, `get`. They make no request.

func init() {
	register(func(out *Out) []*cobra.Command {
		return []*cobra.Command{newImagesCmd(out), newInspectCmd(out), newGetCmd(out),
			newAddCmd(out), newRmCmd(out), newRmiCmd(out), newMvCmd(out)}
	})
}

func newImagesCmd(out *Out) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "images [--json] [QUERY]",
		Short: "List the images in the local catalogue, optionally those whose name contains QUERY",
		Args:  cobra.MaximumNArgs(1),

		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withCatalogue(cmd.Context(), func(cat *catalogue.Catalogue) error {
				return runImages(cmd.Context(), out, cat, optionalName(args), asJSON)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// withCatalogue opens the catalogue around fn.
func withCatalogue(ctx context.Context, fn func(*catalogue.Catalogue) error) error {
	cat, err := openCatalogue(ctx)
	if err != nil {
		return err
	}
	defer cat.Close()
	return fn(cat)
}

// runImages prints seed 004's rows: "<id> <date>\t[<client>]\t<name>".
func runImages(ctx context.Context, out *Out, cat *catalogue.Catalogue, query string, asJSON bool) error {
	if query == "*" {
		query = ""
	}
	entries, err := cat.List(ctx, query)
	if err != nil {
		return err
	}
	if asJSON {
		views := make([]map[string]any, 0, len(entries))
		for _, e := range entries {
			views = append(views, entryView(e))
		}
		return printJSON(out, views)
	}
	if len(entries) == 0 {
		return nil
	}
	fmt.Fprintln(out.Stdout, "Containers:   [date]   [client]\t[uri]")
	for _, e := range entries {
		fmt.Fprintf(out.Stdout, "%-2d %s\t[%s]\t%s\n", e.ID, e.CreatedAt.Format("January 02, 2006"), e.Client, e.Name)
	}
	for _, e := range entries {
		warnMissing(out, e)
	}
	return nil
}

// warnMissing reports an entry whose file was deleted outside silo.
func warnMissing(out *Out, e catalogue.Entry) bool {
	if e.Image == "" {
		return false
	}
	if _, err := os.Stat(e.Image); errors.Is(err, os.ErrNotExist) {
		out.Warnf("%s: its file %s is gone (deleted outside silo?): pull it again, or forget it with `silo rm %s`", e.Name, e.Image, e.Name)
		return true
	}
	return false
}

// entryView is an entry as seed 004's inspect shows it (keys sorted when
// encoded, as sregistry-cli's json.dumps(sort_keys=True)).
func entryView(e catalogue.Entry) map[string]any {
	var metrics any = map[string]any{}
	if len(e.Metrics) > 0 {
		metrics = json.RawMessage(e.Metrics)
	}
	v := map[string]any{
		"client": e.Client, "collection": e.Collection, "collection_id": e.CollectionID,
		"created_at": e.CreatedAt.Format("2006-01-02 15:04:05"), "id": e.ID, "image": nil, "metrics": metrics,
		"name": e.Container, "tag": e.Tag, "uri": e.URI(), "url": e.URL, "version": e.Version,
	}
	if e.Image != "" {
		v["image"] = e.Image
	}
	return v
}

// catalogueName reads a name as the catalogue commands take it:
// [entity/]collection/container[:tag][@version] (a library:// prefix and
// host are allowed and ignored: the catalogue is keyed by
// collection/container).
func catalogueName(raw string) (catalogue.Name, error) {
	ref, err := client.ParseRef(raw)
	if err != nil {
		return catalogue.Name{}, err
	}
	if ref.Scheme != client.SchemeLibrary {
		col, con := ociName(ref.Path)
		return catalogue.Name{Collection: col, Container: con, Tag: ref.Tag(), Version: ref.Version}, nil
	}
	_, col, con := ref.LibraryPath()
	if col == "" {
		col = defaultCollection
	}
	return catalogue.Name{Collection: col, Container: con, Tag: ref.Tag(), Version: ref.Version}, nil
}

// findEntry looks a name up in the catalogue, with the seed's message
// when it is not there.
func findEntry(ctx context.Context, cat *catalogue.Catalogue, raw string) (catalogue.Entry, error) {
	n, err := catalogueName(raw)
	if err != nil {
		return catalogue.Entry{}, err
	}
	e, err := cat.Get(ctx, n)
	if errors.Is(err, catalogue.ErrNotFound) {
		return e, fmt.Errorf("image %s was not found in the local catalogue", raw)
	}
	return e, err
}

func newInspectCmd(out *Out) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect [--json] URI[@version]",
		Short: "Show what the local catalogue knows of an image, with the server's metadata",
		Args:  cobra.ExactArgs(1),

		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withCatalogue(cmd.Context(), func(cat *catalogue.Catalogue) error {
				e, err := findEntry(cmd.Context(), cat, args[0])
				if err != nil {
					return err
				}
				if !asJSON {
					fmt.Fprintln(out.Stdout, args[0])
					where := e.Image
					if where == "" || warnMissing(out, e) {
						where = e.URL
					}
					fmt.Fprintln(out.Stdout, where)
				}
				return printJSON(out, entryView(e))
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print only the JSON")
	return cmd
}

func newGetCmd(out *Out) *cobra.Command {
	return &cobra.Command{
		Use:   "get URI[@version]",
		Short: "Print the local path of an image in the catalogue",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withCatalogue(cmd.Context(), func(cat *catalogue.Catalogue) error {
				e, err := findEntry(cmd.Context(), cat, args[0])
				if err != nil {
					return err
				}
				if e.Image == "" {
					return fmt.Errorf("no file is kept for %s (it came from %s): pull it again", e.Name, e.URL)
				}
				if _, err := os.Stat(e.Image); errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("the file of %s, %s, is gone (deleted outside silo?): pull it again, or forget it with `silo rm %s`", e.Name, e.Image, e.Name)
				}
				fmt.Fprintln(out.Stdout, e.Image)
				return nil
			})
		},
	}
}
