package credstore

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// RemoteConfig is remote.yaml, laid out as Singularity writes it (seed 003,
// fixtures/singularity-4.3.3/remote.yaml) so the file reads the same to a
// user who knows Singularity's. Keys Silo does not know are kept.
type RemoteConfig struct {
	Active      string                `yaml:"Active"`
	Remotes     map[string]*Remote    `yaml:"Remotes"`
	Credentials []*RegistryCredential `yaml:"Credentials,omitempty"`
	Extra       map[string]any        `yaml:",inline"`

	path string
}

// Remote is one library endpoint. URI is host[:port][/path] without a
// scheme, as Singularity stores it; with a port it is written "//host:port"
// because Singularity cannot parse "host:port" back (fixture README).
type Remote struct {
	URI       string         `yaml:"URI,omitempty"`
	Token     string         `yaml:"Token,omitempty"`
	System    bool           `yaml:"System"`
	Exclusive bool           `yaml:"Exclusive"`
	Insecure  bool           `yaml:"Insecure,omitempty"`
	Extra     map[string]any `yaml:",inline"`
}

// RegistryCredential records a registry login made without --authfile, so
// `registry list` can show it; the secret itself is in the auth file.
type RegistryCredential struct {
	URI      string `yaml:"URI"`
	Auth     string `yaml:"Auth,omitempty"`
	Insecure bool   `yaml:"Insecure"`
}

// LoadRemoteConfig reads path; a missing or empty file is an empty config.
func LoadRemoteConfig(path string) (*RemoteConfig, error) {
	c := &RemoteConfig{path: path}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("while reading remote config: %w", err)
	}
	if len(bytes.TrimSpace(data)) > 0 {
		if err := yaml.Unmarshal(data, c); err != nil {
			return nil, fmt.Errorf("while parsing remote config data: %w", err)
		}
	}
	if c.Remotes == nil {
		c.Remotes = map[string]*Remote{}
	}
	for name, r := range c.Remotes {
		if r == nil {
			c.Remotes[name] = &Remote{}
		}
	}
	return c, nil
}

// Path is the file the config was loaded from.
func (c *RemoteConfig) Path() string { return c.path }

// Save writes the config atomically, mode 0600 (it holds tokens).
func (c *RemoteConfig) Save() error {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(4)
	if err := enc.Encode(c); err != nil {
		return fmt.Errorf("while encoding remote config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return err
	}
	return writeFileAtomic(c.path, buf.Bytes(), 0o600)
}

// Names lists the remotes: global (system) ones first, then by name.
func (c *RemoteConfig) Names() []string {
	names := make([]string, 0, len(c.Remotes))
	for n := range c.Remotes {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := c.Remotes[names[i]], c.Remotes[names[j]]
		if a.System != b.System {
			return a.System
		}
		return names[i] < names[j]
	})
	return names
}

// Remote returns the named remote, or the active one when name is "".
func (c *RemoteConfig) Remote(name string) (*Remote, string, error) {
	if name == "" {
		if c.Active == "" {
			return nil, "", errors.New("no default remote")
		}
		name = c.Active
	}
	r, ok := c.Remotes[name]
	if !ok {
		return nil, name, fmt.Errorf("%s is not a remote", name)
	}
	return r, name, nil
}

// Add creates a remote; the name must be new.
func (c *RemoteConfig) Add(name string, r *Remote) error {
	if strings.TrimSpace(name) == "" {
		return errors.New("invalid name: cannot have empty name")
	}
	if _, ok := c.Remotes[name]; ok {
		return fmt.Errorf("%s is already a remote", name)
	}
	c.Remotes[name] = r
	return nil
}

// Use makes name the active remote, unless an administrator pinned another
// one as exclusive.
func (c *RemoteConfig) Use(name string) error {
	if _, ok := c.Remotes[name]; !ok {
		return fmt.Errorf("%s is not a remote", name)
	}
	for n, r := range c.Remotes {
		if r.Exclusive && n != name {
			return fmt.Errorf("could not use %s: remote %s has been set exclusive by the system administrator", name, n)
		}
	}
	c.Active = name
	return nil
}

// Remove deletes a user remote and clears Active if it pointed there.
func (c *RemoteConfig) Remove(name string) error {
	r, ok := c.Remotes[name]
	if !ok {
		return fmt.Errorf("%s is not a remote", name)
	}
	if r.System {
		return fmt.Errorf("%s is global and can't be removed", name)
	}
	if c.Active == name {
		c.Active = ""
	}
	delete(c.Remotes, name)
	return nil
}

// AddCredential records a registry login, replacing earlier entries for the
// same scheme and host.
func (c *RemoteConfig) AddCredential(uri string, insecure bool) {
	c.RemoveCredentials(uri)
	c.Credentials = append(c.Credentials, &RegistryCredential{URI: uri, Insecure: insecure})
}

// RemoveCredentials drops every entry for uri's scheme and host and reports
// whether there was one.
func (c *RemoteConfig) RemoveCredentials(uri string) bool {
	kept := c.Credentials[:0]
	for _, cred := range c.Credentials {
		if !SameURI(cred.URI, uri) {
			kept = append(kept, cred)
		}
	}
	removed := len(kept) != len(c.Credentials)
	c.Credentials = kept
	if len(c.Credentials) == 0 {
		c.Credentials = nil
	}
	return removed
}

// SameURI compares scheme and host[:port] only, as Singularity's
// remote/util.SameURI does; the path is ignored.
func SameURI(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	if errA != nil || errB != nil {
		return a == b
	}
	return ua.Scheme == ub.Scheme && ua.Host == ub.Host
}

// RemoteURI turns what a user typed for `remote add` into the stored form.
// A scheme is dropped ("http" requires insecure, so a typed http:// is not
// silently upgraded to https), and a port keeps a leading "//".
func RemoteURI(raw string, insecure bool) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", errors.New("invalid URI: cannot have empty URI")
	}
	s := raw
	if !strings.Contains(s, "://") && !strings.HasPrefix(s, "//") {
		s = "//" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("invalid URI %q: %w", raw, err)
	}
	switch {
	case u.Host == "":
		return "", fmt.Errorf("invalid URI %q: no host", raw)
	case u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("invalid URI %q: scheme must be http or https", raw)
	case u.Scheme == "http" && !insecure:
		return "", fmt.Errorf("%s uses http: add --insecure to allow a remote without TLS", raw)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("invalid URI %q: only host[:port][/path] is allowed", raw)
	}
	uri := u.Host + strings.TrimSuffix(u.Path, "/")
	if u.Port() != "" {
		uri = "//" + uri
	}
	return uri, nil
}

// BaseURL is the remote's http(s) base, without a trailing slash.
func (r *Remote) BaseURL() (string, error) {
	if r.URI == "" {
		return "", errors.New("remote has no URI")
	}
	u, err := url.Parse("//" + strings.TrimPrefix(r.URI, "//"))
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("invalid remote URI %q", r.URI)
	}
	u.Scheme = "https"
	if r.Insecure {
		u.Scheme = "http"
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}
