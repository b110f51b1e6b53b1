package cli

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/library"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/server"
)

func init() { adminCommandSets = append(adminCommandSets, newAdminLibraryCmds) }

// adminPrincipal is who admin commands act as: the rules of the library
// service apply, with an admin's rights.
var adminPrincipal = auth.Principal{UserID: "silo-admin-cli", Name: "admin", Role: meta.RoleAdmin}

func newAdminLibraryCmds(env *adminEnv) []*cobra.Command {
	container := &cobra.Command{Use: "container", Short: "Manage library containers"}
	for _, frozen := range []bool{true, false} {
		verb, done, short := "freeze", "frozen", "Freeze a container: its existing tags can no longer be replaced"
		if !frozen {
			verb, done, short = "unfreeze", "unfrozen", "Unfreeze a container: pushes may replace its tags again"
		}
		container.AddCommand(&cobra.Command{
			Use:   verb + " ENTITY/COLLECTION/CONTAINER",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: env.run(func(ctx context.Context, svc *server.Services, args []string) error {
				lib := svc.Library
				ref, err := lib.ContainerByPath(ctx, adminPrincipal, args[0])
				if err != nil {
					return err
				}
				if _, err := lib.UpdateContainer(ctx, adminPrincipal, ref.Container.ID, library.ContainerUpdate{Frozen: &frozen}); err != nil {
					return err
				}
				env.out.Infof("Container %s %s.", ref.Path(), done)
				return nil
			}),
		})
	}
	collection := &cobra.Command{Use: "collection", Short: "Manage library collections"}
	for _, private := range []bool{true, false} {
		verb := "private"
		if !private {
			verb = "public"
		}
		collection.AddCommand(&cobra.Command{
			Use:   verb + " ENTITY/COLLECTION",
			Short: "Make a collection " + verb,
			Args:  cobra.ExactArgs(1),
			RunE: env.run(func(ctx context.Context, svc *server.Services, args []string) error {
				lib := svc.Library
				ent, col, err := collectionArg(args[0])
				if err != nil {
					return err
				}
				info, err := lib.GetCollection(ctx, adminPrincipal, ent, col)
				if err != nil {
					return err
				}
				if _, err := lib.UpdateCollection(ctx, adminPrincipal, info.Collection.ID, library.CollectionUpdate{Private: &private}); err != nil {
					return err
				}
				env.out.Infof("Collection %s/%s is now %s.", ent, col, verb)
				return nil
			}),
		})
	}
	collection.AddCommand(&cobra.Command{
		Use:   "rotate-urls ENTITY/COLLECTION",
		Short: "End every sregistry image URL handed out for a collection (shub://, sregistry-cli); new ones are given from now on",
		Long: "Give a collection a new download salt: the image URLs the sregistry API handed out\n" +
			"for it stop working at once (docs/sregistry.md, \"Downloads\"). Rotate after making a\n" +
			"collection private if its URLs were handed out while it was public.",
		Args: cobra.ExactArgs(1),
		RunE: env.run(func(ctx context.Context, svc *server.Services, args []string) error {
			ent, col, err := collectionArg(args[0])
			if err != nil {
				return err
			}
			if err := svc.SRegistry.RotateDownloadsAs(ctx, adminPrincipal, ent, col); err != nil {
				return err
			}
			env.out.Infof("Collection %s/%s: image URLs handed out before no longer work.", ent, col)
			return nil
		}),
	})
	return []*cobra.Command{container, collection}
}

// collectionArg splits an ENTITY/COLLECTION argument.
func collectionArg(arg string) (ent, col string, err error) {
	ent, col, ok := strings.Cut(arg, "/")
	if !ok || strings.Contains(col, "/") {
		return "", "", apperr.New(apperr.Invalid, "invalid collection path %q: want ENTITY/COLLECTION", arg)
	}
	return ent, col, nil
}
