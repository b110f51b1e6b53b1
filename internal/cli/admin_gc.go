package cli

import (
	"context"
	"encoding/json"
	"time"

	"github.com/spf13/cobra"

	"github.com/silo-hpc/silo/internal/gc"
	"github.com/silo-hpc/silo/internal/quota"
	"github.com/silo-hpc/silo/internal/server"
)

func init() { adminCommandSets = append(adminCommandSets, newAdminGCCmds) }

// newAdminGCCmds is `silo admin gc`: one collection of blobs nothing
// references (docs/gc.md), beside running servers.
func newAdminGCCmds(env *adminEnv) []*cobra.Command {
	var dryRun, asJSON bool
	var grace time.Duration
	var cmd *cobra.Command
	cmd = &cobra.Command{
		Use:   "gc",
		Short: "Remove blobs nothing references (online: servers keep running)",
		Long: `Remove blobs that no image, manifest or upload references and that nothing
used within the grace period (gc.grace), while servers keep running. Only
one collection runs at a time across every replica. --dry-run reports what
would be removed without removing anything.`,
		Args: cobra.NoArgs,
		RunE: env.run(func(ctx context.Context, svc *server.Services, args []string) error {
			if !cmd.Flags().Changed("grace") {
				grace = -1
			}
			r, err := svc.Collector.Collect(ctx, gc.Options{DryRun: dryRun, Grace: grace})
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(env.out.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			if r.Skipped {
				env.out.Warnf("Another garbage collection is running; nothing done.")
				return nil
			}
			verb := "Removed"
			if dryRun {
				verb = "Would remove"
			}
			env.out.Infof("%s %d unreferenced blob(s), %s.", verb, r.Blobs+r.Resumed, quota.Format(r.Bytes))
			env.out.Infof("%s %d stored blob(s) no record knew of, %s.", verb, r.Orphans, quota.Format(r.OrphanBytes))
			env.out.Infof("%s %d stale link(s) from repositories.", verb, r.Links)
			env.out.Infof("Grace period %s; took %s.", r.Grace, r.Duration.Round(time.Millisecond))
			return nil
		}),
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report what would be removed, remove nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().DurationVar(&grace, "grace", 0, "keep what was used within this long (default: gc.grace); shorter only when no push is under way")
	return []*cobra.Command{cmd}
}
