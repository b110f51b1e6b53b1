package config

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/silo-hpc/silo/internal/redact"
)

// Storage backends.
const (
	StorageFS = "fs"
	StorageS3 = "s3"
)

// S3 selects the bucket of the S3 blob store (storage: s3): AWS S3, MinIO,
// Ceph RGW or any S3-compatible service. Every replica uses the same one.
type S3 struct {
	// Endpoint is the service's URL (http:// or https://).
	Endpoint string `yaml:"endpoint"`
	Bucket   string `yaml:"bucket"`
	Region   string `yaml:"region"`
	// AccessKey and SecretKey (or SecretKeyFile) sign requests; when all
	// are empty the AWS environment, shared credentials file or instance
	// role are used.
	AccessKey     string `yaml:"access_key"`
	SecretKey     string `yaml:"secret_key"`
	SecretKeyFile string `yaml:"secret_key_file"`
	// PathStyle puts the bucket in the URL path (MinIO, Ceph, most
	// on-premises services) instead of the host name (AWS).
	PathStyle bool `yaml:"path_style"`
	// Prefix is prepended to every key, e.g. "silo/".
	Prefix string `yaml:"prefix"`
	// PartSize is the multipart part size: the memory one upload holds
	// (twice this) and the largest blob (10,000 parts).
	PartSize Bytes `yaml:"part_size"`
	// PublicEndpoint, when set, is the service's URL as clients reach it:
	// downloads are redirected to URLs presigned for it rather than
	// streamed through Silo. Empty (the default): Silo streams.
	PublicEndpoint string `yaml:"public_endpoint"`
}

// GC tunes the online garbage collector of blobs.
type GC struct {
	// Interval between scheduled collections on a server; 0 turns the
	// schedule off (`silo admin gc` still runs one).
	Interval Duration `yaml:"interval"`
	// Grace is how long a blob nothing references is kept: longer than
	// any push takes from storing a blob to referencing it.
	Grace Duration `yaml:"grace"`
}

// Uploads tunes upload sessions (internal/upload).
type Uploads struct {
	// IdleTimeout ends a session no request touched for this long.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// Lease is how long a replica that died mid-request keeps its
	// session busy before another replica may continue it.
	Lease Duration `yaml:"lease"`
}

// Bytes is a size that YAML and env decode from "16MiB", "1GiB", "5242880".
type Bytes int64

var bytesRe = regexp.MustCompile(`^([0-9]+)\s*(B|KiB|MiB|GiB|TiB)?$`)

// ParseBytes parses a size with an optional binary unit.
func ParseBytes(s string) (Bytes, error) {
	m := bytesRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional unit (KiB, MiB, GiB, TiB)", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	shift := map[string]uint{"": 0, "B": 0, "KiB": 10, "MiB": 20, "GiB": 30, "TiB": 40}[m[2]]
	if n > (1<<62)>>shift {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return Bytes(n << shift), nil
}

func (b *Bytes) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseBytes(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

func (b Bytes) MarshalYAML() (any, error) { return int64(b), nil }

func duration(f func(*Config) *Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		*f(c) = Duration(d)
		return nil
	}
}

// storageEnv lists the storage and GC settings' variables.
var storageEnv = []envVar{
	{"SILO_STORAGE", str(func(c *Config) *string { return &c.Storage })},
	{"SILO_S3_ENDPOINT", str(func(c *Config) *string { return &c.S3.Endpoint })},
	{"SILO_S3_BUCKET", str(func(c *Config) *string { return &c.S3.Bucket })},
	{"SILO_S3_REGION", str(func(c *Config) *string { return &c.S3.Region })},
	{"SILO_S3_ACCESS_KEY", str(func(c *Config) *string { return &c.S3.AccessKey })},
	{"SILO_S3_SECRET_KEY", str(func(c *Config) *string { return &c.S3.SecretKey })},
	{"SILO_S3_SECRET_KEY_FILE", str(func(c *Config) *string { return &c.S3.SecretKeyFile })},
	{"SILO_S3_PATH_STYLE", boolean(func(c *Config) *bool { return &c.S3.PathStyle })},
	{"SILO_S3_PREFIX", str(func(c *Config) *string { return &c.S3.Prefix })},
	{"SILO_S3_PUBLIC_ENDPOINT", str(func(c *Config) *string { return &c.S3.PublicEndpoint })},
	{"SILO_S3_PART_SIZE", func(c *Config, v string) error {
		b, err := ParseBytes(v)
		c.S3.PartSize = b
		return err
	}},
	{"SILO_GC_INTERVAL", duration(func(c *Config) *Duration { return &c.GC.Interval })},
	{"SILO_GC_GRACE", duration(func(c *Config) *Duration { return &c.GC.Grace })},
	{"SILO_UPLOAD_IDLE_TIMEOUT", duration(func(c *Config) *Duration { return &c.Uploads.IdleTimeout })},
	{"SILO_UPLOAD_LEASE", duration(func(c *Config) *Duration { return &c.Uploads.Lease })},
}

// validBucket applies S3's bucket naming rule (3 to 63 of a-z 0-9 . -,
// starting and ending with a letter or digit) by hand: as a regexp its
// bounded repetition compiles to a large program at every start.
func validBucket(s string) bool {
	if len(s) < 3 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || i == len(s)-1 || c != '.' && c != '-') {
			return false
		}
	}
	return true
}

// validateStorage reports the storage and GC settings' problems.
func (c *Config) validateStorage(bad func(string, ...any)) {
	switch c.Storage {
	case StorageFS:
	case StorageS3:
		c.S3.validate(bad)
	default:
		bad("storage %q: want fs or s3", c.Storage)
	}
	if c.GC.Interval < 0 {
		bad("gc.interval %s: must not be negative (0 turns the schedule off)", time.Duration(c.GC.Interval))
	}
	if time.Duration(c.GC.Grace) < time.Minute {
		bad("gc.grace %s: must be at least 1m (a push must reference its blobs within it)", time.Duration(c.GC.Grace))
	}
	if time.Duration(c.Uploads.IdleTimeout) < time.Minute {
		bad("uploads.idle_timeout %s: must be at least 1m", time.Duration(c.Uploads.IdleTimeout))
	}
	if l := time.Duration(c.Uploads.Lease); l < time.Second || l >= time.Duration(c.Uploads.IdleTimeout) {
		bad("uploads.lease %s: must be at least 1s and shorter than uploads.idle_timeout", l)
	}
}

func (s *S3) validate(bad func(string, ...any)) {
	u, err := url.Parse(s.Endpoint)
	switch {
	case s.Endpoint == "":
		bad("s3.endpoint must be set with storage: s3")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/"):
		bad("s3.endpoint %q: want http(s)://host[:port]", redact.URL(s.Endpoint))
	case u.User != nil:
		bad("s3.endpoint %q: put credentials in s3.access_key and s3.secret_key", redact.URL(s.Endpoint))
	}
	if s.PublicEndpoint != "" {
		pu, err := url.Parse(s.PublicEndpoint)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || pu.User != nil {
			bad("s3.public_endpoint %q: want http(s)://host[:port], the address clients reach S3 at", redact.URL(s.PublicEndpoint))
		}
	}
	if !validBucket(s.Bucket) {
		bad("s3.bucket %q: want an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)", s.Bucket)
	}
	if s.SecretKey != "" && s.SecretKeyFile != "" {
		bad("s3.secret_key and s3.secret_key_file: set one")
	}
	hasSecret := s.SecretKey != "" || s.SecretKeyFile != ""
	if (s.AccessKey != "") != hasSecret {
		bad("s3.access_key and a secret key must be set together (or neither, for AWS's own sources)")
	}
	if s.SecretKeyFile != "" {
		if _, err := os.Stat(s.SecretKeyFile); err != nil {
			bad("s3.secret_key_file: %v", err)
		}
	}
	if s.Prefix != "" && (strings.HasPrefix(s.Prefix, "/") || !strings.HasSuffix(s.Prefix, "/")) {
		bad("s3.prefix %q: want a relative key prefix ending in / (e.g. silo/)", s.Prefix)
	}
	if s.PartSize < 5<<20 || s.PartSize > 5<<30 {
		bad("s3.part_size %d: must be between 5MiB and 5GiB (S3's limits)", s.PartSize)
	}
}

// S3Secret returns the configured secret key, read from its file when
// one is named.
func (s *S3) S3Secret() (string, error) {
	if s.SecretKeyFile == "" {
		return s.SecretKey, nil
	}
	b, err := os.ReadFile(s.SecretKeyFile)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}
