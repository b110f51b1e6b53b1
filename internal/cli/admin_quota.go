package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/silo-hpc/silo/internal/config"
	"github.com/silo-hpc/silo/internal/quota"
	"github.com/silo-hpc/silo/internal/server"
)

func init() { adminCommandSets = append(adminCommandSets, newAdminQuotaCmds) }

// newAdminQuotaCmds is `silo admin quota set|show|list` (docs/quotas.md).
func newAdminQuotaCmds(env *adminEnv) []*cobra.Command {
	cmd := &cobra.Command{Use: "quota", Short: "Manage storage quotas of users and collections"}
	set := &cobra.Command{
		Use:   "set user|collection NAME SIZE",
		Short: "Set a quota: SIZE in bytes or with a unit (10GiB); 0 removes it",
		Long: `Set the bytes a user (NAME: the user name) or a collection (NAME:
entity/collection) may hold. A blob counts once per owner however many
images use it. SIZE takes KiB, MiB, GiB or TiB; 0 removes the quota.`,
		Args: cobra.ExactArgs(3),
		RunE: env.run(func(ctx context.Context, svc *server.Services, args []string) error {
			limit, err := config.ParseBytes(args[2])
			if err != nil {
				return err
			}
			r, err := svc.Quota.Set(ctx, adminPrincipal, args[0], args[1], int64(limit))
			if err != nil {
				return err
			}
			env.out.Infof("Quota of %s %s: %s.", r.Kind, r.Name, describe(r))
			return nil
		}),
	}
	show := &cobra.Command{
		Use:   "show user|collection NAME",
		Short: "Show a quota and its usage",
		Args:  cobra.ExactArgs(2),
		RunE: env.run(func(ctx context.Context, svc *server.Services, args []string) error {
			r, err := svc.Quota.Show(ctx, adminPrincipal, args[0], args[1])
			if err != nil {
				return err
			}
			return printQuotas(env, []quota.Report{r})
		}),
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List every quota with its usage",
		Args:  cobra.NoArgs,
		RunE: env.run(func(ctx context.Context, svc *server.Services, args []string) error {
			rs, err := svc.Quota.List(ctx, adminPrincipal)
			if err != nil {
				return err
			}
			return printQuotas(env, rs)
		}),
	}
	cmd.AddCommand(set, show, list)
	return []*cobra.Command{cmd}
}

func describe(r quota.Report) string {
	if r.Limit == 0 {
		return "unlimited, " + quota.Format(r.Usage) + " used"
	}
	return fmt.Sprintf("%s, %s used", quota.Format(r.Limit), quota.Format(r.Usage))
}

func printQuotas(env *adminEnv, rs []quota.Report) error {
	tw := tabwriter.NewWriter(env.out.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tLIMIT\tUSAGE")
	for _, r := range rs {
		limit := "unlimited"
		if r.Limit > 0 {
			limit = quota.Format(r.Limit)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Kind, r.Name, limit, quota.Format(r.Usage))
	}
	return tw.Flush()
}
