package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/server"
	"log/slog"
)

// adminEnv is what admin subcommands work with: the same database and
// stores `serve` uses, whether or not a server is running.
type adminEnv struct {
	out   *Out
	flags serverFlags
}

// run wraps a subcommand body with opening the server's services (the
// one composition `serve` uses, over the same stores) and closing them.
func (e *adminEnv) run(f func(ctx context.Context, svc *server.Services, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		cfg, err := e.flags.load(cmd.Flags())
		if err != nil {
			return err
		}
		log := slog.New(slog.NewTextHandler(e.out.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		svc, err := server.Open(cmd.Context(), cfg, log)
		if err != nil {
			return err
		}
		defer svc.Close()
		return f(cmd.Context(), svc, args)
	}
}

func newAdminCmd(out *Out) *cobra.Command {
	env := &adminEnv{out: out}
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Administer a Silo server's database (users, tokens, collections)",
	}
	env.flags.bind(cmd.PersistentFlags(), false)
	cmd.AddCommand(newAdminUserCmd(env), newAdminTokenCmd(env))
	for _, add := range adminCommandSets {
		cmd.AddCommand(add(env)...)
	}
	return cmd
}

// adminCommandSets lets other files add admin subcommands.
var adminCommandSets []func(*adminEnv) []*cobra.Command

func newAdminUserCmd(env *adminEnv) *cobra.Command {
	user := &cobra.Command{Use: "user", Short: "Manage users"}
	var role string
	var pwStdin bool
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Create a user",
		Args:  cobra.ExactArgs(1),
		RunE: env.run(func(ctx context.Context, svc *server.Services, args []string) error {
			a := svc.Auth
			pw := ""
			if pwStdin {
				b, err := io.ReadAll(env.out.Stdin)
				if err != nil {
					return err
				}
				pw = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
				if pw == "" {
					return fmt.Errorf("an empty password was given on stdin")
				}
			}
			if _, err := a.CreateUser(ctx, args[0], meta.Role(role), pw); err != nil {
				return err
			}
			env.out.Infof("User %q created (role %s).", args[0], role)
			return nil
		}),
	}
	add.Flags().StringVar(&role, "role", "user", "role: admin, manager or user")
	add.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from stdin")
	list := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: env.run(func(ctx context.Context, svc *server.Services, args []string) error {
			a := svc.Auth
			users, err := a.ListUsers(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(env.out.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tSTATUS\tCREATED")
			for _, u := range users {
				status := "active"
				if u.Disabled {
					status = "disabled"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, status, u.CreatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		}),
	}
	disable := &cobra.Command{
		Use:   "disable NAME",
		Short: "Disable a user: its password and tokens stop working",
		Args:  cobra.ExactArgs(1),
		RunE: env.run(func(ctx context.Context, svc *server.Services, args []string) error {
			a := svc.Auth
			if err := a.SetDisabled(ctx, args[0], true); err != nil {
				return err
			}
			env.out.Infof("User %q disabled.", args[0])
			return nil
		}),
	}
	user.AddCommand(add, list, disable)
	return user
}

func newAdminTokenCmd(env *adminEnv) *cobra.Command {
	token := &cobra.Command{Use: "token", Short: "Manage API tokens"}
	var label, expires string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an API token for a user and print it (only the token, on stdout)",
		Args:  cobra.ExactArgs(1),
		RunE: env.run(func(ctx context.Context, svc *server.Services, args []string) error {
			a := svc.Auth
			ttl, err := parseTTL(expires)
			if err != nil {
				return err
			}
			tok, _, err := a.IssueToken(ctx, args[0], label, ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(env.out.Stdout, tok)
			return nil
		}),
	}
	create.Flags().StringVar(&label, "label", "", "a label to recognise the token by")
	create.Flags().StringVar(&expires, "expires", "", "lifetime, e.g. 90d, 12h (default: never)")
	list := &cobra.Command{
		Use:   "list NAME",
		Short: "List a user's tokens",
		Args:  cobra.ExactArgs(1),
		RunE: env.run(func(ctx context.Context, svc *server.Services, args []string) error {
			a := svc.Auth
			toks, err := a.ListTokens(ctx, args[0])
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(env.out.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tLABEL\tCREATED\tLAST USED\tEXPIRES\tSTATUS")
			for _, t := range toks {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Label, fmtTime(t.CreatedAt), fmtTime(t.LastUsedAt), fmtTime(t.ExpiresAt), tokenStatus(t))
			}
			return tw.Flush()
		}),
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token",
		Args:  cobra.ExactArgs(1),
		RunE: env.run(func(ctx context.Context, svc *server.Services, args []string) error {
			a := svc.Auth
			if err := a.RevokeToken(ctx, args[0]); err != nil {
				return err
			}
			env.out.Infof("Token %s revoked.", args[0])
			return nil
		}),
	}
	token.AddCommand(create, list, revoke)
	return token
}

func tokenStatus(t meta.Token) string {
	switch {
	case t.Revoked:
		return "revoked"
	case !t.ExpiresAt.IsZero() && time.Now().After(t.ExpiresAt):
		return "expired"
	}
	return "active"
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}

// parseTTL accepts Go durations plus a "d" (days) suffix.
func parseTTL(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("invalid --expires %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	ttl, err := time.ParseDuration(s)
	if err != nil || ttl <= 0 {
		return 0, fmt.Errorf("invalid --expires %q: use e.g. 90d or 12h", s)
	}
	return ttl, nil
}
