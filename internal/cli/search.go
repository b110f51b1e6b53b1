package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/silo-hpc/silo/internal/client"
)

// `silo search [QUERY]`: sregistry-cli's search (seed 004) against the
// active remote, in its two output shapes.

func init() {
	register(func(out *Out) []*cobra.Command { return []*cobra.Command{newSearchCmd(out)} })
}

type searchOptions struct {
	arch    string
	signed  bool
	label   string
	json    bool
	noHTTPS bool
}

func newSearchCmd(out *Out) *cobra.Command {
	var o searchOptions
	cmd := &cobra.Command{
		Use:   "search [--arch A] [--signed] [--label KEY[=VALUE]] [--json] [QUERY]",
		Short: "Search the remote's images: all, by word, by collection/container[:tag], by label",
		Long: "With no QUERY, every image you may see is listed (\"Collections\"); a word finds images whose\n" +
			"container, collection or entity names or descriptions contain it; collection/container[:tag]\n" +
			"lists that container's tags (\"Containers\").",
		Args: cobra.MaximumNArgs(1),

		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSearch(cmd.Context(), out, &o, optionalName(args))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.arch, "arch", "", "only images of these architectures (comma-separated)")
	f.BoolVar(&o.signed, "signed", false, "only images whose signatures the server verified")
	f.StringVar(&o.label, "label", "", "only images with label `KEY[=VALUE]`")
	f.BoolVar(&o.json, "json", false, "print JSON")
	f.BoolVar(&o.noHTTPS, "no-https", false, "use plain http for a host named in the query")
	return cmd
}

// searchRow is one image tag a search shows.
type searchRow struct {
	Entity     string    `json:"entity"`
	Collection string    `json:"collection"`
	Container  string    `json:"container"`
	Tag        string    `json:"tag"`
	Arch       string    `json:"arch"`
	Hash       string    `json:"hash"`
	Size       int64     `json:"size"`
	Signed     bool      `json:"signed"`
	Verified   bool      `json:"verified"`
	Created    time.Time `json:"created"`
	URI        string    `json:"uri"`
	URL        string    `json:"url"`
	name       string    // what the row shows: [entity/]collection/container
}

func runSearch(ctx context.Context, out *Out, o *searchOptions, query string) error {
	ref := client.Ref{}
	containerQuery := strings.ContainsAny(query, "/:")
	if containerQuery {
		var err error
		if ref, err = client.ParseRef(query); err != nil || ref.Scheme != client.SchemeLibrary {
			return fmt.Errorf("search names a library container: collection/container[:tag]")
		}
	}
	t, err := openLibrary(ctx, ref, o.noHTTPS)
	if err != nil {
		return err
	}
	var rows []searchRow
	switch {
	case containerQuery:
		rows, err = containerRows(ctx, t, o, ref)
	case query == "" && o.label == "":
		rows, err = listRows(ctx, t, o, client.ListQuery{})
	default:
		rows, err = searchRows(ctx, t, o, query)
	}
	if err != nil {
		return fmt.Errorf("while searching: %w", err)
	}
	if o.json {
		return printJSON(out, rows)
	}
	if len(rows) == 0 {
		out.Infof("No containers found.")
		return nil
	}
	if containerQuery {
		fmt.Fprintf(out.Stdout, "Containers %s\n", query)
		printTable(out, rows, func(r searchRow) []string {
			return []string{r.name, r.Tag, r.Created.Local().Format("Jan 02, 2006 03:04PM")}
		})
		return nil
	}
	fmt.Fprintln(out.Stdout, "Collections")
	printTable(out, rows, func(r searchRow) []string { return []string{r.name + ":" + r.Tag, r.URL} })
	return nil
}

// printTable prints sregistry-cli's numbered table: the row number padded
// to two, a space, the columns joined by tabs (seed 004).
func printTable[T any](out *Out, rows []T, cols func(T) []string) {
	for i, r := range rows {
		fmt.Fprintf(out.Stdout, "%-2d %s\n", i+1, strings.Join(cols(r), "\t"))
	}
}

func printJSON(out *Out, v any) error {
	enc := json.NewEncoder(out.Stdout)
	enc.SetIndent("", "    ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// containerRows lists one container's tags.
func containerRows(ctx context.Context, t *libraryTarget, o *searchOptions, ref client.Ref) ([]searchRow, error) {
	e, c, n := splitPath(t.path(ref))
	rows, err := listRows(ctx, t, o, client.ListQuery{Entity: e, Collection: c, Container: n})
	if client.IsNotFound(err) {
		return nil, nil
	}
	if len(ref.Tags) == 0 {
		return rows, err
	}
	kept := rows[:0]
	for _, r := range rows {
		if r.Tag == ref.Tag() {
			kept = append(kept, r)
		}
	}
	return kept, err
}

// listRows turns GET /v1/containers into rows, one per tag, applying
// --arch and --signed client-side.
func listRows(ctx context.Context, t *libraryTarget, o *searchOptions, q client.ListQuery) ([]searchRow, error) {
	cons, err := t.lib.ListContainers(ctx, q)
	if err != nil {
		return nil, err
	}
	var rows []searchRow
	for _, k := range cons {
		seen := map[string]bool{}
		for _, tag := range k.Tags {
			img, ok := k.ImageByID(tag.ImageID)
			if !ok || seen[tag.Tag] && o.arch == "" || !o.keeps(img) {
				continue
			}
			seen[tag.Tag] = true
			rows = append(rows, t.row(img, k.Entity, k.Collection, k.Container, tag.Tag))
		}
	}
	return rows, nil
}

// keeps applies --arch and --signed to an image as the server's search
// does: images of unknown architecture pass an arch filter; --signed
// keeps images whose signatures the server verified (docs/keyserver.md).
func (o *searchOptions) keeps(img client.Image) bool {
	if o.signed && !img.Verified {
		return false
	}
	if o.arch == "" || img.Arch == "" {
		return true
	}
	for _, a := range strings.Split(o.arch, ",") {
		if strings.TrimSpace(a) == img.Arch {
			return true
		}
	}
	return false
}

// searchRows asks GET /v1/search (value, arch, signed, label) and shows
// each image hit once per tag.
func searchRows(ctx context.Context, t *libraryTarget, o *searchOptions, value string) ([]searchRow, error) {
	res, err := t.lib.Search(ctx, client.SearchQuery{Value: value, Arch: o.arch, Signed: o.signed, Label: o.label})
	if err != nil {
		return nil, err
	}
	var rows []searchRow
	for _, img := range res.Images {
		tags := append([]string(nil), img.Tags...)
		sort.Strings(tags)
		for _, tag := range tags {
			rows = append(rows, t.row(img, img.EntityName, img.CollectionName, img.ContainerName, tag))
		}
	}
	return rows, nil
}

func (t *libraryTarget) row(img client.Image, e, c, n, tag string) searchRow {
	path := e + "/" + c + "/" + n
	return searchRow{Entity: e, Collection: c, Container: n, Tag: tag, Arch: img.Arch, Hash: img.Hash, Size: img.Size,
		Signed: img.Signed, Verified: img.Verified, Created: img.CreatedAt, URI: t.uri(path, tag), URL: t.pageURL(path), name: t.short(e, c, n)}
}
