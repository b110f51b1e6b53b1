package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/silo-hpc/silo/internal/client"
	"github.com/silo-hpc/silo/internal/credstore"
)

// `silo remote ...`: Library API endpoints and their tokens in remote.yaml,
// with Singularity's commands and messages (docs/protocols/library-api.md §3, seed 003).

func init() {
	register(func(out *Out) []*cobra.Command { return []*cobra.Command{newRemoteCmd(out)} })
}

func newRemoteCmd(out *Out) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "remote",
		Short: "Manage library remotes (Silo servers) and their access tokens",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newRemoteAddCmd(out), newRemoteLoginCmd(out), newRemoteLogoutCmd(out),
		newRemoteUseCmd(out), newRemoteListCmd(out), newRemoteStatusCmd(out), newRemoteRemoveCmd(out))
	return cmd
}

func loadRemotes() (*credstore.RemoteConfig, error) {
	path, err := credstore.RemoteConfigFile()
	if err != nil {
		return nil, err
	}
	return credstore.LoadRemoteConfig(path)
}

func newRemoteAddCmd(out *Out) *cobra.Command {
	var insecure, noLogin, noDefault bool
	var tokenFile string
	cmd := &cobra.Command{
		Use:   "add [--insecure] [--no-login] NAME URI",
		Short: "Add a library remote, make it the default and log in to it",
		Args:  cobra.ExactArgs(2),

		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			uri, err := credstore.RemoteURI(args[1], insecure)
			if err != nil {
				return err
			}
			cfg, err := loadRemotes()
			if err != nil {
				return err
			}
			if err := cfg.Add(name, &credstore.Remote{URI: uri, Insecure: insecure}); err != nil {
				return err
			}
			if !noDefault {
				if err := cfg.Use(name); err != nil {
					return err
				}
			}
			if err := cfg.Save(); err != nil {
				return err
			}
			out.Infof("Remote %q added.", name)
			if noLogin {
				return nil
			}
			return remoteLogin(cmd.Context(), out, cfg, name, tokenFile)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&insecure, "insecure", "i", false, "allow connection to an insecure http remote")
	f.BoolVar(&noLogin, "no-login", false, "skip the automatic login step")
	f.BoolVarP(&noDefault, "no-default", "n", false, "do not make the new remote the default")
	f.StringVar(&tokenFile, "tokenfile", "", "`FILE` holding the access token")
	return cmd
}

func newRemoteLoginCmd(out *Out) *cobra.Command {
	var tokenFile string
	cmd := &cobra.Command{
		Use:   "login [--tokenfile FILE] [NAME]",
		Short: "Store a verified access token for a remote (default: the active one)",
		Args:  cobra.MaximumNArgs(1),

		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadRemotes()
			if err != nil {
				return err
			}
			return remoteLogin(cmd.Context(), out, cfg, optionalName(args), tokenFile)
		},
	}
	cmd.Flags().StringVar(&tokenFile, "tokenfile", "", "`FILE` holding the access token")
	return cmd
}

func optionalName(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// remoteLogin is Singularity's endPointLogin: a token from --tokenfile or a
// hidden prompt, verified before it is stored. Declining to replace a
// token, or entering none, ends quietly with nothing changed.
func remoteLogin(ctx context.Context, out *Out, cfg *credstore.RemoteConfig, name, tokenFile string) error {
	r, _, err := cfg.Remote(name)
	if err != nil {
		return err
	}
	base, err := r.BaseURL()
	if err != nil {
		return err
	}
	var token string
	if tokenFile != "" {
		if token, err = readTokenFile(tokenFile); err != nil {
			return fmt.Errorf("while reading tokenfile: %w", err)
		}
	} else {
		if r.Token != "" {
			fmt.Fprint(out.Stderr, "An access token is already set for this remote. Replace it? [y/N] ")
			answer, err := readStdinLine(out.Stdin)
			if err != nil {
				return fmt.Errorf("while reading input: %w", err)
			}
			if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
				return nil
			}
		}
		fmt.Fprintf(out.Stderr, "Generate an access token at %s/auth/tokens, and paste it here.\n", base)
		fmt.Fprintln(out.Stderr, "Token entered will be hidden for security.")
		if token, err = promptSecret(out, "Access Token: "); err != nil {
			return err
		}
		if token = strings.TrimSpace(token); token == "" {
			return nil
		}
	}
	if err := verifyLibraryToken(ctx, base, token); err != nil {
		return fmt.Errorf("while verifying token: %w", err)
	}
	out.Infof("Access Token Verified!")
	r.Token = token
	if err := cfg.Save(); err != nil {
		return err
	}
	out.Infof("Token stored in %s", cfg.Path())
	return nil
}

// readTokenFile takes the first line, as Singularity's auth.ReadToken.
func readTokenFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	return strings.TrimSpace(line), nil
}

// verifyLibraryToken: length first (no request for a token no Silo server
// issues), then discovery and /v1/token-status.
func verifyLibraryToken(ctx context.Context, base, token string) error {
	if err := client.CheckTokenLength(token); err != nil {
		return err
	}
	services, err := client.Discover(ctx, clientHTTP, base)
	if err != nil {
		return err
	}
	ts, ok := services["token"]
	if !ok {
		return errors.New("no authentication service found")
	}
	return client.VerifyToken(ctx, clientHTTP, ts.URI, token)
}

func newRemoteLogoutCmd(out *Out) *cobra.Command {
	return &cobra.Command{
		Use:   "logout [NAME]",
		Short: "Forget the access token of a remote (default: the active one)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadRemotes()
			if err != nil {
				return err
			}
			r, _, err := cfg.Remote(optionalName(args))
			if err != nil {
				return err
			}
			r.Token = ""
			if err := cfg.Save(); err != nil {
				return err
			}
			out.Infof("Logout succeeded")
			return nil
		},
	}
}

func newRemoteUseCmd(out *Out) *cobra.Command {
	return &cobra.Command{
		Use:   "use NAME",
		Short: "Make a remote the default",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return editRemotes(func(c *credstore.RemoteConfig) error { return c.Use(args[0]) },
				func() { out.Infof("Remote %q now in use.", args[0]) })
		},
	}
}

func newRemoteRemoveCmd(out *Out) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a remote",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return editRemotes(func(c *credstore.RemoteConfig) error { return c.Remove(args[0]) },
				func() { out.Infof("Remote %q removed.", args[0]) })
		},
	}
}

// editRemotes loads remote.yaml, applies change, saves, then reports.
func editRemotes(change func(*credstore.RemoteConfig) error, report func()) error {
	cfg, err := loadRemotes()
	if err != nil {
		return err
	}
	if err := change(cfg); err != nil {
		return err
	}
	if err := cfg.Save(); err != nil {
		return err
	}
	report()
	return nil
}

func newRemoteListCmd(out *Out) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the remotes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadRemotes()
			if err != nil {
				return err
			}
			remoteList(out, cfg)
			return nil
		},
	}
}

// remoteList prints the table seed 003 shows.
func remoteList(out *Out, cfg *credstore.RemoteConfig) {
	fmt.Fprint(out.Stdout, "Cloud Services Endpoints\n========================\n\n")
	tw := tabwriter.NewWriter(out.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tURI\tACTIVE\tGLOBAL\tEXCLUSIVE\tINSECURE")
	for _, n := range cfg.Names() {
		r := cfg.Remotes[n]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", n, r.URI,
			remoteYesNo(n == cfg.Active), remoteYesNo(r.System), remoteYesNo(r.Exclusive), remoteYesNo(r.Insecure))
	}
	tw.Flush()
}

func remoteYesNo(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}

func newRemoteStatusCmd(out *Out) *cobra.Command {
	return &cobra.Command{
		Use:   "status [NAME]",
		Short: "Show the services of a remote, their versions and the token's state",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return remoteStatus(cmd.Context(), out, optionalName(args))
		},
	}
}

// remoteStatus follows SingularityCE's remote_status.go and the request
// order in the 4.3.3 fixture: discovery, /version per service,
// /v1/rbac/users/current, /v1/token-status.
func remoteStatus(ctx context.Context, out *Out, name string) error {
	if name != "" {
		out.Infof("Checking status of remote: %s", name)
	} else {
		out.Infof("Checking status of default remote.")
	}
	cfg, err := loadRemotes()
	if err != nil {
		return err
	}
	r, _, err := cfg.Remote(name)
	if err != nil {
		return err
	}
	base, err := r.BaseURL()
	if err != nil {
		return err
	}
	services, err := client.Discover(ctx, clientHTTP, base)
	if err != nil {
		return fmt.Errorf("while retrieving services: %w", err)
	}
	printServiceStatus(ctx, out, services)
	if lib, ok := services["library"]; ok && r.Token != "" {
		// Optional endpoint: any error just means nothing to show.
		if u, err := client.CurrentUser(ctx, clientHTTP, lib.URI, r.Token); err == nil && u.Username != "" {
			fmt.Fprintf(out.Stdout, "\nLogged in as: %s <%s>\n\n", u.Username, u.Email)
		}
	}
	return remoteTokenStatus(ctx, out, services, r.Token)
}

func printServiceStatus(ctx context.Context, out *Out, services client.Services) {
	names := services.Names()
	status := make([]string, len(names))
	versions := make([]string, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := client.ServiceVersion(ctx, clientHTTP, services[n].URI)
			if err != nil {
				status[i] = "N/A"
				return
			}
			status[i], versions[i] = "OK", v
		}()
	}
	wg.Wait()
	tw := tabwriter.NewWriter(out.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tSTATUS\tVERSION\tURI")
	for i, n := range names {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", strings.ToUpper(n[:1])+n[1:], status[i], versions[i], services[n].URI)
	}
	tw.Flush()
}

func remoteTokenStatus(ctx context.Context, out *Out, services client.Services, token string) error {
	if token == "" {
		fmt.Fprintln(out.Stdout, "\nNo authentication token set (logged out).")
		return nil
	}
	ts, ok := services["token"]
	if !ok {
		return errors.New("no authentication service found")
	}
	if err := client.VerifyToken(ctx, clientHTTP, ts.URI, token); err != nil {
		fmt.Fprintln(out.Stdout, "\nAuthentication token is invalid (please login again).")
		return err
	}
	out.Infof("Access Token Verified!")
	fmt.Fprintln(out.Stdout, "\nValid authentication token set (logged in).")
	return nil
}
