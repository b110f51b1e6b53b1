package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/config"
	"github.com/silo-hpc/silo/internal/gcpace"
	"github.com/silo-hpc/silo/internal/server"
	"github.com/silo-hpc/silo/internal/version"
)

func init() {
	register(func(out *Out) []*cobra.Command { return []*cobra.Command{newServeCmd(out), newAdminCmd(out)} })
}

// serverFlags are the settings both `serve` and `admin` accept; each
// overrides the file and the environment when given.
type serverFlags struct {
	configFile string
	addr       string
	dataDir    string
	publicURL  string
	database   string
	tlsCert    string
	tlsKey     string
}

func (f *serverFlags) bind(fs *pflag.FlagSet, withListen bool) {
	fs.StringVar(&f.configFile, "config", "", "YAML configuration file (env SILO_CONFIG)")
	fs.StringVar(&f.dataDir, "data-dir", "", "data directory (default ./silo-data; env SILO_DATA_DIR)")
	fs.StringVar(&f.database, "database", "", "database: empty for SQLite in the data dir, or postgres://... (env SILO_DATABASE)")
	if withListen {
		fs.StringVar(&f.addr, "addr", "", "listen address (default :8080; env SILO_ADDR)")
		fs.StringVar(&f.publicURL, "public-url", "", "external base URL used in discovery and upload URLs (env SILO_PUBLIC_URL)")
		fs.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate file (env SILO_TLS_CERT)")
		fs.StringVar(&f.tlsKey, "tls-key", "", "TLS key file (env SILO_TLS_KEY)")
	}
}

// load builds the configuration: defaults, then the file, then SILO_*
// variables, then flags; and validates it.
func (f *serverFlags) load(fs *pflag.FlagSet) (config.Config, error) {
	cfg := config.Default()
	file := f.configFile
	if file == "" {
		file = os.Getenv("SILO_CONFIG")
	}
	var errs []error
	if file != "" {
		if err := cfg.LoadFile(file); err != nil {
			return cfg, err
		}
	}
	if err := cfg.ApplyEnv(os.LookupEnv); err != nil {
		errs = append(errs, err)
	}
	set := func(name string, dst *string, v string) {
		if fs.Changed(name) {
			*dst = v
		}
	}
	set("addr", &cfg.Addr, f.addr)
	set("data-dir", &cfg.DataDir, f.dataDir)
	set("public-url", &cfg.PublicURL, f.publicURL)
	set("database", &cfg.Database, f.database)
	set("tls-cert", &cfg.TLSCert, f.tlsCert)
	set("tls-key", &cfg.TLSKey, f.tlsKey)
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, fmt.Errorf("invalid configuration: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return cfg, nil
}

func newLogger(cfg config.Config, out *Out) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(out.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(out.Stderr, opts))
}

func newServeCmd(out *Out) *cobra.Command {
	var flags serverFlags
	var checkOnly bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Silo registry server",
		Long: "Run the registry: the Sylabs Library API and OCI Distribution (with its token\n" +
			"service) over one store, on one port, with /healthz, /readyz and /metrics.\n" +
			"Defaults are embedded: SQLite and blob files under --data-dir.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := flags.load(cmd.Flags())
			if err != nil {
				return err
			}
			if checkOnly {
				out.Infof("Configuration is valid.")
				return nil
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runServer(ctx, cfg, out)
		},
	}
	flags.bind(cmd.Flags(), true)
	cmd.Flags().BoolVar(&checkOnly, "check-config", false, "validate the configuration, report every problem, and exit")
	return cmd
}

func runServer(ctx context.Context, cfg config.Config, out *Out) error {
	log := newLogger(cfg, out)
	if _, set := os.LookupEnv("GOGC"); !set {
		gcpace.Keep(serveGCPercent, serveGCCeiling)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Addr, err)
	}
	defer ln.Close()
	svc, err := server.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer svc.Close()
	srv := server.New(svc)
	boot, err := srv.Auth.EnsureAdmin(ctx, os.Getenv("SILO_ADMIN_PASSWORD"), os.Getenv("SILO_ADMIN_TOKEN"))
	if err != nil {
		return fmt.Errorf("creating the admin account: %w", err)
	}
	if boot.Created {
		printBootstrap(out, boot)
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	out.Infof("Silo %s listening on %s://%s (data in %s)", version.Version, scheme, ln.Addr(), cfg.DataDir)
	log.Info("server started", "addr", ln.Addr().String(), "version", version.Version)
	return srv.Serve(ctx, ln, 30*time.Second)
}

// The server's GOGC unless the environment sets one (internal/gcpace):
// 400 while the heap goal that gives stays under 256 MiB, less above, and
// Go's default 100 once the live heap is 128 MiB. Its live heap is a few
// MiB, and Go's default collected about once per search answering 400
// rows; the ceiling keeps a large live heap (S3 pushes' parts) from
// growing fivefold (docs/configuration.md, "Go's garbage collector").
const (
	serveGCPercent = 400
	serveGCCeiling = 256 << 20
)

// printBootstrap shows the first admin credentials once. They go to the
// terminal, not to the structured log.
func printBootstrap(out *Out, b auth.Bootstrap) {
	out.Infof("Created user \"admin\" (role admin).")
	if b.Password != "" {
		out.Infof("Admin password (shown once): %s", b.Password)
	} else {
		out.Infof("Admin password taken from SILO_ADMIN_PASSWORD.")
	}
	if b.Token != "" {
		out.Infof("Admin API token (shown once): %s", b.Token)
	} else {
		out.Infof("Admin API token taken from SILO_ADMIN_TOKEN.")
	}
}
