package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/silo-hpc/silo/internal/client"
	"github.com/silo-hpc/silo/internal/credstore"
	"github.com/silo-hpc/silo/internal/redact"
)

// `silo registry login|logout|list`: OCI registry credentials, as
// SingularityCE 4 keeps them (docs/protocols/oci-and-auth.md §4): secrets in a Docker
// config.json, a record of each login in remote.yaml for `registry list`.

func init() {
	register(func(out *Out) []*cobra.Command { return []*cobra.Command{newRegistryCmd(out)} })
}

func newRegistryCmd(out *Out) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Log in to and out of OCI registries (docker://, oras://)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newRegistryLoginCmd(out), newRegistryLogoutCmd(out), newRegistryListCmd(out))
	return cmd
}

type loginOptions struct {
	username, password string
	passwordStdin      bool
	authFile           string
	insecure           bool
	credsStore         string
}

func newRegistryLoginCmd(out *Out) *cobra.Command {
	var o loginOptions
	cmd := &cobra.Command{
		Use:   "login [-u USER] [--password-stdin] [--authfile FILE] docker://HOST[:PORT] | oras://HOST[:PORT]",
		Short: "Verify and store credentials for an OCI registry",
		Args:  cobra.ExactArgs(1),

		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			flagFromEnv(cmd, "username", "SILO_LOGIN_USERNAME")
			flagFromEnv(cmd, "password", "SILO_LOGIN_PASSWORD")
			if err := registryLogin(cmd.Context(), out, &o, args[0]); err != nil {
				return fmt.Errorf("while login to %s: %w", redact.URL(args[0]), err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.username, "username", "u", "", "`USER` to authenticate as (required; env SILO_LOGIN_USERNAME)")
	f.StringVarP(&o.password, "password", "p", "", "`PASSWORD` or token (visible to other users; prefer --password-stdin; env SILO_LOGIN_PASSWORD)")
	f.BoolVar(&o.passwordStdin, "password-stdin", false, "take the password from standard input")
	f.StringVar(&o.authFile, "authfile", "", "credentials `FILE` to use (env SILO_AUTHFILE; default ~/.silo/docker-config.json)")
	f.BoolVar(&o.insecure, "insecure", false, "use plain http to reach the registry")
	f.StringVar(&o.credsStore, "creds-store", "", "keep the secret in credential helper docker-credential-`NAME` instead of the file")
	return cmd
}

// flagFromEnv gives a flag the value of an environment variable when the
// command line did not set it (Singularity's EnvKeys).
func flagFromEnv(cmd *cobra.Command, flag, env string) {
	if v, ok := os.LookupEnv(env); ok && !cmd.Flags().Changed(flag) {
		_ = cmd.Flags().Set(flag, v)
	}
}

// plaintextWarning is docker/cli's file-store warning, which SingularityCE
// 4.3.3 prints verbatim (fixtures/singularity-4.3.3/README.md).
const plaintextWarning = "WARNING! Your credentials are stored unencrypted in '%s'.\n" +
	"Configure a credential helper to remove this warning. See\n" +
	"https://docs.docker.com/go/credential-store/\n\n"

// registryLogin runs Singularity's order of checks (docs/protocols/oci-and-auth.md §4.2):
// transport, username, password; then verifies the credentials against
// the registry and only then writes anything.
func registryLogin(ctx context.Context, out *Out, o *loginOptions, raw string) error {
	if o.passwordStdin {
		if o.password != "" {
			return errors.New("--password and --password-stdin are mutually exclusive")
		}
		p, err := readPasswordStdin(out.Stdin)
		if err != nil {
			return err
		}
		o.password = p
	}
	u, err := parseRegistryURI(raw, false)
	if err != nil {
		return err
	}
	if o.username == "" {
		return errors.New("Docker/OCI registry requires a username")
	}
	if o.password == "" {
		if o.password, err = promptSecret(out, "Password / Token: "); err != nil {
			return fmt.Errorf("failed to read password: %w", err)
		}
		if o.password == "" {
			return errors.New("a password is required")
		}
	}
	path, explicit, err := credstore.AuthFile(o.authFile)
	if err != nil {
		return err
	}
	store, err := credstore.OpenStore(path)
	if err != nil {
		return fmt.Errorf("while loading existing OCI registry credentials from %q: %w", path, err)
	}
	if o.credsStore != "" {
		if _, err := exec.LookPath(credstore.Helper{Name: o.credsStore}.Program()); err != nil {
			return fmt.Errorf("credential helper %s: %w", credstore.Helper{Name: o.credsStore}.Program(), err)
		}
	}
	reg := client.Registry{Host: registryHost(u.Host), Insecure: o.insecure, HTTP: clientHTTP}
	if err := reg.VerifyLogin(ctx, o.username, o.password); err != nil {
		return err
	}
	return saveLogin(ctx, out, store, explicit, o, u.Host, raw)
}

// saveLogin stores verified credentials and, for the default auth file,
// records the login in remote.yaml.
func saveLogin(ctx context.Context, out *Out, store *credstore.Store, explicit bool, o *loginOptions, host, raw string) error {
	path := store.Path()
	auth := credstore.AuthConfig{Username: o.username, Password: o.password}
	helper, err := store.Put(ctx, credstore.RegistryKey(host), auth, o.credsStore)
	if err != nil {
		return fmt.Errorf("while trying to store new credentials: %w", err)
	}
	if helper == "" {
		fmt.Fprintf(out.Stderr, plaintextWarning, path)
		out.Infof("Token stored in %s", path)
	} else {
		out.Infof("Token stored in %s (recorded in %s)", credstore.Helper{Name: helper}.Program(), path)
	}
	if explicit {
		return nil // like Singularity: a chosen auth file keeps remote.yaml out of it
	}
	return updateRemoteCredentials(func(c *credstore.RemoteConfig) bool {
		c.AddCredential(raw, o.insecure)
		return true
	})
}

// readPasswordStdin reads all of stdin and strips one trailing "\n", then
// one "\r", as Singularity and docker do.
func readPasswordStdin(r io.Reader) (string, error) {
	if r == nil {
		return "", nil
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return "", fmt.Errorf("failed to read password from stdin: %w", err)
	}
	return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
}

// parseRegistryURI accepts docker://HOST[:PORT] and oras://HOST[:PORT];
// withPath also allows a /path (logout may remove such keys that other
// tools wrote). Messages are Singularity's.
func parseRegistryURI(raw string, withPath bool) (*url.URL, error) {
	if !strings.Contains(raw, "://") {
		return nil, fmt.Errorf("no transport in %q: use docker://HOST[:PORT] or oras://HOST[:PORT]", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes raw, which may hold a password.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("parse %q: %w", redact.URL(raw), err)
	}
	if u.Scheme != "docker" && u.Scheme != "oras" {
		return nil, fmt.Errorf("%s transport is not supported", u.Scheme)
	}
	if u.Host == "" || (u.Path != "" && !withPath) || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("registries must be valid RFC 3986 URI authorities: %s", u.Host+u.Path)
	}
	return u, nil
}

// registryHost is where Docker Hub's short name really answers /v2/.
func registryHost(host string) string {
	if host == "docker.io" {
		return "index.docker.io"
	}
	return host
}

// clientHTTP is shared by the client commands; the timeout bounds each
// request so an unresponsive server ends a command with an error.
var clientHTTP = &http.Client{Timeout: 30 * time.Second}

func newRegistryLogoutCmd(out *Out) *cobra.Command {
	var authFile string
	cmd := &cobra.Command{
		Use:   "logout [--authfile FILE] docker://HOST[:PORT] | oras://HOST[:PORT]",
		Short: "Remove the stored credentials for an OCI registry",
		Args:  cobra.ExactArgs(1),

		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := registryLogout(cmd.Context(), out, authFile, args[0]); err != nil {
				return fmt.Errorf("while logout from %s: %w", redact.URL(args[0]), err)
			}
			out.Infof("Logout succeeded")
			return nil
		},
	}
	cmd.Flags().StringVar(&authFile, "authfile", "", "credentials `FILE` to use (env SILO_AUTHFILE; default ~/.silo/docker-config.json)")
	return cmd
}

// registryLogout follows Singularity (docs/protocols/oci-and-auth.md §4.3): no stored
// login is a warning, not an error.
func registryLogout(ctx context.Context, out *Out, authFlag, raw string) error {
	u, err := parseRegistryURI(raw, true)
	if err != nil {
		return err
	}
	registry := u.Host + u.Path
	path, explicit, err := credstore.AuthFile(authFlag)
	if err != nil {
		return err
	}
	store, err := credstore.OpenStore(path)
	if err != nil {
		return fmt.Errorf("while loading existing OCI registry credentials from %q: %w", path, err)
	}
	key := credstore.RegistryKey(registry)
	if !hasLogin(ctx, store, key) {
		out.Warnf("There is no existing login to registry %q.", registry)
	} else {
		if err := store.Delete(ctx, key); err != nil {
			return fmt.Errorf("while deleting OCI credentials for registry %q: %w", registry, err)
		}
		out.Infof("Token removed from %s", path)
	}
	if explicit {
		return nil
	}
	return updateRemoteCredentials(func(c *credstore.RemoteConfig) bool { return c.RemoveCredentials(raw) })
}

// hasLogin is Singularity's test: an auths entry (a helper's empty
// placeholder counts) whose credentials can be read.
func hasLogin(ctx context.Context, store *credstore.Store, key string) bool {
	if !store.Config.Has(key) {
		return false
	}
	_, _, err := store.Get(ctx, key)
	return err == nil
}

// updateRemoteCredentials edits remote.yaml's registry records; change
// reports whether there is anything to write, so a logout with nothing
// recorded does not create the file.
func updateRemoteCredentials(change func(*credstore.RemoteConfig) bool) error {
	path, err := credstore.RemoteConfigFile()
	if err != nil {
		return err
	}
	cfg, err := credstore.LoadRemoteConfig(path)
	if err != nil {
		return err
	}
	if !change(cfg) {
		return nil
	}
	return cfg.Save()
}

func newRegistryListCmd(out *Out) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the registries you logged in to",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return registryList(out)
		},
	}
}

// registryList prints remote.yaml's docker:// and oras:// records the way
// SingularityCE does (docs/protocols/oci-and-auth.md §4.4). Logins made with --authfile
// are not recorded there and so not listed, as in Singularity.
func registryList(out *Out) error {
	path, err := credstore.RemoteConfigFile()
	if err != nil {
		return err
	}
	cfg, err := credstore.LoadRemoteConfig(path)
	if err != nil {
		return err
	}
	var creds []*credstore.RegistryCredential
	for _, c := range cfg.Credentials {
		if u, err := url.Parse(c.URI); err == nil && (u.Scheme == "docker" || u.Scheme == "oras") {
			creds = append(creds, c)
		}
	}
	if len(creds) == 0 {
		fmt.Fprint(out.Stdout, "\n(no registries with stored login information found)\n\n")
		return nil
	}
	fmt.Fprintln(out.Stdout)
	tw := tabwriter.NewWriter(out.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\t%s\n", "URI", "SECURE?")
	for _, c := range creds {
		secure := "✓"
		if c.Insecure {
			secure = "✗!"
		}
		fmt.Fprintf(tw, "%s\t%s\n", c.URI, secure)
	}
	tw.Flush()
	fmt.Fprintln(out.Stdout)
	return nil
}

// promptSecret shows prompt on stderr and reads one line: from the terminal
// without echo, else from the command's stdin (pipes, tests). The newline
// the user typed is not echoed, so one is printed after.
func promptSecret(out *Out, prompt string) (string, error) {
	fmt.Fprint(out.Stderr, prompt)
	defer fmt.Fprintln(out.Stderr)
	if f, ok := out.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b, err := term.ReadPassword(int(f.Fd()))
		return string(b), err
	}
	return readStdinLine(out.Stdin)
}

// readStdinLine reads one line a byte at a time, so what follows stays unread
// for the next question (a buffered reader would swallow it).
func readStdinLine(r io.Reader) (string, error) {
	line, _, err := readAnswer(r)
	return strings.TrimSuffix(line, "\r"), err
}
