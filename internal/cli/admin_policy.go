package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/silo-hpc/silo/internal/client"
)

// `silo admin policy get|set|clear COLLECTION [FINGERPRINT...]`: a
// collection's signature policy (docs/keyserver.md, "Signature
// policies"). Unlike the other admin commands it does not open the
// server's database: a collection's owner sets its policy, so it talks to
// the active remote's Library API with the stored token, as `silo list`
// does, and the server decides who may.

func init() { adminCommandSets = append(adminCommandSets, newAdminPolicyCmds) }

type policyOptions struct {
	json bool
}

func newAdminPolicyCmds(env *adminEnv) []*cobra.Command {
	var o policyOptions
	policy := &cobra.Command{
		Use:   "policy",
		Short: "Show or set a collection's signature policy (over HTTP, with your remote's token)",
		Long: "A collection with a signature policy accepts only pushes validly signed by one of its keys\n" +
			"(held by the server's keyserver: `singularity key push`). Images stored before stay; the\n" +
			"policy shows which of them would be refused. COLLECTION is ENTITY/COLLECTION, or COLLECTION\n" +
			"of your own entity. These commands use the active remote (`silo remote use`, `silo remote\n" +
			"login`); its owner or an administrator may change a policy.",
	}
	policy.PersistentFlags().BoolVar(&o.json, "json", false, "print JSON")
	get := &cobra.Command{
		Use:   "get COLLECTION",
		Short: "Show a collection's signature policy and which stored images would fail it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPolicy(cmd, env.out, &o, args[0], nil, false)
		},
	}
	set := &cobra.Command{
		Use:   "set COLLECTION FINGERPRINT...",
		Short: "Accept only pushes with a valid signature by one of these keys (40-hex-digit fingerprints)",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPolicy(cmd, env.out, &o, args[0], args[1:], true)
		},
	}
	clear := &cobra.Command{
		Use:   "clear COLLECTION",
		Short: "Remove a collection's signature policy: pushes need no signature",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPolicy(cmd, env.out, &o, args[0], nil, true)
		},
	}
	policy.AddCommand(get, set, clear)
	// The admin group's database flags do not apply here (runPolicy
	// refuses them): help and usage leave them out.
	policy.SetHelpFunc(func(c *cobra.Command, args []string) {
		withoutDBFlags(c, func() { c.Root().HelpFunc()(c, args) })
	})
	policy.SetUsageFunc(func(c *cobra.Command) (err error) {
		withoutDBFlags(c, func() { err = c.Root().UsageFunc()(c) })
		return err
	})
	return []*cobra.Command{policy}
}

// adminDBFlags are the admin group's flags that choose the database.
var adminDBFlags = []string{"config", "data-dir", "database"}

// withoutDBFlags runs show with c's inherited database flags hidden.
func withoutDBFlags(c *cobra.Command, show func()) {
	var hidden []*pflag.Flag
	for _, name := range adminDBFlags {
		if f := c.InheritedFlags().Lookup(name); f != nil && !f.Hidden {
			f.Hidden = true
			hidden = append(hidden, f)
		}
	}
	defer func() {
		for _, f := range hidden {
			f.Hidden = false
		}
	}()
	show()
}

// runPolicy reads (change false) or sets the policy of arg: fingerprints
// to require, none to remove it.
func runPolicy(cmd *cobra.Command, out *Out, o *policyOptions, arg string, fingerprints []string, change bool) error {
	for _, f := range adminDBFlags {
		if cmd.Flags().Changed(f) {
			return fmt.Errorf("silo admin policy talks to the active remote over HTTP: --%s does not apply", f)
		}
	}
	ctx := cmd.Context()
	t, err := openLibrary(ctx, client.Ref{}, false)
	if err != nil {
		return err
	}
	id, name, err := policyCollection(ctx, t, arg)
	if err != nil {
		return err
	}
	var p client.SignaturePolicy
	if change {
		p, err = t.lib.SetSignaturePolicy(ctx, id, fingerprints)
	} else {
		p, err = t.lib.SignaturePolicy(ctx, id)
	}
	if err != nil {
		return fmt.Errorf("signature policy of %s: %w", name, err)
	}
	switch {
	case !change:
	case len(fingerprints) > 0:
		out.Infof("Signature policy of %s set: pushes need a valid signature by one of %d key(s).", name, len(p.Fingerprints))
	default:
		out.Infof("Signature policy of %s removed: pushes need no signature.", name)
	}
	if o.json {
		return printJSON(out, p)
	}
	printPolicy(out, p)
	return nil
}

// policyCollection resolves ENTITY/COLLECTION (or COLLECTION of the
// caller's entity) to the collection's id through the Library API.
func policyCollection(ctx context.Context, t *libraryTarget, arg string) (id, name string, err error) {
	entity, collection, ok := strings.Cut(arg, "/")
	if !ok {
		entity, collection = t.entity, arg
	}
	if entity == "" || collection == "" || strings.ContainsAny(collection, "/:") {
		return "", "", fmt.Errorf("invalid collection %q: want ENTITY/COLLECTION or COLLECTION", arg)
	}
	name = entity + "/" + collection
	id, err = t.lib.CollectionID(ctx, entity, collection)
	if client.IsNotFound(err) {
		return "", "", fmt.Errorf("collection %s not found", name)
	}
	if err != nil {
		return "", "", fmt.Errorf("while looking up collection %s: %w", name, err)
	}
	return id, name, nil
}

// printPolicy shows the policy, its keys, and the stored images it
// would refuse.
func printPolicy(out *Out, p client.SignaturePolicy) {
	w := out.Stdout
	fmt.Fprintf(w, "Collection: %s\n", p.Collection)
	if len(p.Fingerprints) == 0 {
		fmt.Fprintln(w, "Policy:     none (any image may be pushed)")
		return
	}
	fmt.Fprintln(w, "Policy:     pushes need a valid signature by one of these keys")
	if p.UpdatedAt != nil {
		fmt.Fprintf(w, "Updated:    %s by %s\n", p.UpdatedAt.Local().Format("2006-01-02 15:04:05"), dash(p.UpdatedBy))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tHELD\tOWNER")
	for _, k := range p.Keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", k.Fingerprint, yesNo(k.Held), dash(k.Owner))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nStored images: %d, %d would be refused if pushed now (the policy applies to pushes: they stay).\n",
		len(p.Images), p.Failing)
	if len(p.Images) == 0 {
		return
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER\tTAGS\tARCH\tHASH\tVERDICT")
	for _, img := range p.Images {
		verdict := "passes"
		if !img.Passes {
			verdict = "would be refused: " + img.Refusal
		}
		tags := strings.Join(img.Tags, ",")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", img.Container, dash(tags), dash(img.Arch), shortHash(img.Hash), verdict)
	}
	tw.Flush()
}

// shortHash is "sha256.<first 12 hex digits>".
func shortHash(h string) string {
	if algo, hex, ok := strings.Cut(h, "."); ok && len(hex) > 12 {
		return algo + "." + hex[:12]
	}
	return h
}
