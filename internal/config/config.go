// Package config is Silo's one typed server configuration: defaults, a
// strict YAML file, SILO_* environment overrides, and validation that
// reports every problem at once.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/silo-hpc/silo/internal/names"
	"github.com/silo-hpc/silo/internal/redact"
)

// Config is the whole server configuration.
type Config struct {
	Addr      string `yaml:"addr"`
	DataDir   string `yaml:"data_dir"`
	PublicURL string `yaml:"public_url"`
	// Database is empty for SQLite in DataDir, a file path for SQLite
	// elsewhere, or a postgres:// URL.
	Database string  `yaml:"database"`
	TLSCert  string  `yaml:"tls_cert"`
	TLSKey   string  `yaml:"tls_key"`
	Log      Log     `yaml:"log"`
	Library  Library `yaml:"library"`
	Auth     Auth    `yaml:"auth"`
	// Storage selects the blob store: "fs" (files under DataDir) or "s3"
	// (S3, for several replicas).
	Storage string  `yaml:"storage"`
	S3      S3      `yaml:"s3"`
	GC      GC      `yaml:"gc"`
	Uploads Uploads `yaml:"uploads"`
	// SRegistry configures Singularity Registry Server's API.
	SRegistry SRegistry `yaml:"sregistry"`
	// PprofAddr, when set, serves Go's profiling handlers (/debug/pprof/)
	// on this separate address, for diagnosing a live server; keep it on
	// loopback: it is not authenticated.
	PprofAddr string `yaml:"pprof_addr"`
}

// Log selects log verbosity and encoding.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Library holds the push rules that are server policy.
type Library struct {
	// DefaultPrivate is the privacy of collections created without an
	// explicit "private" (seed 003).
	DefaultPrivate bool `yaml:"default_private"`
	// UserCollections lets ordinary users create collections in their own
	// entity; managers and admins may always create them anywhere.
	UserCollections bool `yaml:"user_collections"`
}

// SRegistry configures the Singularity Registry Server API
// (docs/sregistry.md).
type SRegistry struct {
	// DefaultEntity, when set, is the entity of every bare sregistry name
	// (/api/container/<collection>/...); when empty, a bare name is the
	// one collection of that name the caller may see.
	DefaultEntity string `yaml:"default_entity"`
}

// Auth configures registry tokens.
type Auth struct {
	// SigningKeyFile holds the secret that signs registry bearer tokens.
	// Replicas must share it; when empty, a key is generated in DataDir.
	SigningKeyFile string `yaml:"signing_key_file"`
	// TokenTTL is the lifetime of registry bearer tokens.
	TokenTTL Duration `yaml:"token_ttl"`
}

// Duration is a time.Duration that YAML and env decode from "90s", "5m".
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Default returns the embedded-defaults configuration.
func Default() Config {
	return Config{
		Addr:    ":8080",
		DataDir: "./silo-data",
		Log:     Log{Level: "info", Format: "text"},
		Library: Library{DefaultPrivate: false, UserCollections: true},
		Auth:    Auth{TokenTTL: Duration(15 * time.Minute)},
		Storage: StorageFS,
		S3:      S3{PartSize: 16 << 20},
		GC:      GC{Interval: Duration(time.Hour), Grace: Duration(time.Hour)},
		Uploads: Uploads{IdleTimeout: Duration(24 * time.Hour), Lease: Duration(2 * time.Minute)},
	}
}

// LoadFile overlays a YAML file onto c. Unknown keys are errors.
func (c *Config) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	// An empty file decodes to io.EOF: it simply sets nothing.
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// envVar binds one SILO_* variable to a field.
type envVar struct {
	name string
	set  func(c *Config, v string) error
}

func str(f func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *f(c) = v; return nil }
}

func boolean(f func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("not a boolean: %q", v)
		}
		*f(c) = b
		return nil
	}
}

// EnvVars lists every setting's environment variable, in documentation order.
var envVars = []envVar{
	{"SILO_ADDR", str(func(c *Config) *string { return &c.Addr })},
	{"SILO_DATA_DIR", str(func(c *Config) *string { return &c.DataDir })},
	{"SILO_PUBLIC_URL", str(func(c *Config) *string { return &c.PublicURL })},
	{"SILO_DATABASE", str(func(c *Config) *string { return &c.Database })},
	{"SILO_TLS_CERT", str(func(c *Config) *string { return &c.TLSCert })},
	{"SILO_TLS_KEY", str(func(c *Config) *string { return &c.TLSKey })},
	{"SILO_LOG_LEVEL", str(func(c *Config) *string { return &c.Log.Level })},
	{"SILO_LOG_FORMAT", str(func(c *Config) *string { return &c.Log.Format })},
	{"SILO_DEFAULT_PRIVATE", boolean(func(c *Config) *bool { return &c.Library.DefaultPrivate })},
	{"SILO_USER_COLLECTIONS", boolean(func(c *Config) *bool { return &c.Library.UserCollections })},
	{"SILO_SIGNING_KEY_FILE", str(func(c *Config) *string { return &c.Auth.SigningKeyFile })},
	{"SILO_PPROF_ADDR", str(func(c *Config) *string { return &c.PprofAddr })},
	{"SILO_SREGISTRY_DEFAULT_ENTITY", str(func(c *Config) *string { return &c.SRegistry.DefaultEntity })},
	{"SILO_TOKEN_TTL", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		c.Auth.TokenTTL = Duration(d)
		return nil
	}},
}

func init() { envVars = append(envVars, storageEnv...) }

// EnvNames returns the names of all SILO_* settings variables.
func EnvNames() []string {
	names := make([]string, len(envVars))
	for i, e := range envVars {
		names[i] = e.name
	}
	return names
}

// ApplyEnv overlays SILO_* variables found by lookup (os.LookupEnv in
// production). It reports every bad value at once.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	var errs []error
	for _, e := range envVars {
		v, ok := lookup(e.name)
		if !ok {
			continue
		}
		if err := e.set(c, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.name, err))
		}
	}
	return errors.Join(errs...)
}

// Validate reports every problem with c at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("addr %q: %v", c.Addr, err)
	}
	if c.PprofAddr != "" {
		if _, _, err := net.SplitHostPort(c.PprofAddr); err != nil {
			bad("pprof_addr %q: %v", c.PprofAddr, err)
		}
	}
	if strings.TrimSpace(c.DataDir) == "" {
		bad("data_dir must not be empty")
	}
	if c.PublicURL != "" {
		shown := redact.URL(c.PublicURL)
		u, err := url.Parse(c.PublicURL)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			bad("public_url %q: want an absolute http(s) URL", shown)
		case u.User != nil:
			// It is published in discovery documents and upload URLs.
			bad("public_url %q: must not carry a user name or password", shown)
		case u.RawQuery != "" || u.Fragment != "":
			bad("public_url %q: must not have a query or fragment", shown)
		}
	}
	if IsPostgres(c.Database) {
		if _, err := url.Parse(c.Database); err != nil {
			// url.Error quotes the whole DSN, password included.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			bad("database %q: %v", redact.URL(c.Database), err)
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls_cert and tls_key must be set together")
	}
	for _, f := range []string{c.TLSCert, c.TLSKey, c.Auth.SigningKeyFile} {
		if f != "" {
			if _, err := os.Stat(f); err != nil {
				bad("%v", err)
			}
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level %q: want debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format %q: want text or json", c.Log.Format)
	}
	if e := c.SRegistry.DefaultEntity; e != "" && !names.Valid(e) {
		bad("sregistry.default_entity %q: want an entity name (lowercase letters and digits, single . _ - separators)", e)
	}
	if time.Duration(c.Auth.TokenTTL) < time.Minute {
		bad("auth.token_ttl %s: must be at least 1m (clients clamp shorter tokens)", time.Duration(c.Auth.TokenTTL))
	}
	c.validateStorage(bad)
	return errors.Join(errs...)
}

// IsPostgres reports whether a database setting selects PostgreSQL.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// SQLitePath is the SQLite file a non-PostgreSQL setting selects.
func (c *Config) SQLitePath() string {
	if c.Database != "" && !IsPostgres(c.Database) {
		return c.Database
	}
	return filepath.Join(c.DataDir, "silo.db")
}

// BlobDir is where the filesystem blob store keeps its files.
func (c *Config) BlobDir() string { return filepath.Join(c.DataDir, "storage") }
