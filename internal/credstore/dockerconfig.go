package credstore

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strings"
)

// AuthConfig is one registry's credentials as docker/cli's
// types.AuthConfig holds them once "auth" is decoded.
type AuthConfig struct {
	Username      string
	Password      string
	IdentityToken string // OAuth2 refresh token ("identitytoken")
	RegistryToken string // bearer token sent as-is ("registrytoken")
}

// IsEmpty reports whether a holds no credential at all.
func (a AuthConfig) IsEmpty() bool { return a == AuthConfig{} }

// credentialKeys are the keys of an auths entry that carry a secret or the
// identity it belongs to; a new login replaces all of them. Any other key
// (e.g. docker's legacy "email", or a tool's own) is kept.
var credentialKeys = []string{"auth", "username", "password", "identitytoken", "registrytoken", "serveraddress"}

// DockerConfig is a Docker config.json. Only the keys Silo uses are
// decoded; every other top-level key, and every unknown key inside an
// auths entry, is kept as raw JSON so that a rewrite never loses what
// docker, podman or another tool stored there.
type DockerConfig struct {
	Path  string
	top   map[string]json.RawMessage
	auths map[string]map[string]json.RawMessage
}

// LoadDockerConfig reads path. A missing or empty file is an empty config,
// as docker/cli treats it.
func LoadDockerConfig(path string) (*DockerConfig, error) {
	c := &DockerConfig{Path: path, top: map[string]json.RawMessage{}, auths: map[string]map[string]json.RawMessage{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(data, &c.top); err != nil {
		return nil, fmt.Errorf("while parsing %s: %w", path, err)
	}
	if raw, ok := c.top["auths"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &c.auths); err != nil {
			return nil, fmt.Errorf("while parsing \"auths\" in %s: %w", path, err)
		}
	}
	for k, v := range c.auths {
		if v == nil { // "host": null
			c.auths[k] = map[string]json.RawMessage{}
		}
	}
	delete(c.top, "auths")
	return c, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// Marshal encodes the config as docker/cli does: tab indent, "auths" first
// and always present, no trailing newline.
func (c *DockerConfig) Marshal() ([]byte, error) {
	auths, err := json.Marshal(c.auths)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString(`{"auths":`)
	buf.Write(auths)
	keys := make([]string, 0, len(c.top))
	for k := range c.top {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name, _ := json.Marshal(k)
		buf.WriteByte(',')
		buf.Write(name)
		buf.WriteByte(':')
		buf.Write(c.top[k])
	}
	buf.WriteByte('}')
	var out bytes.Buffer
	if err := json.Indent(&out, buf.Bytes(), "", "\t"); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Save writes the config atomically with mode 0600.
func (c *DockerConfig) Save() error {
	data, err := c.Marshal()
	if err != nil {
		return fmt.Errorf("while encoding %s: %w", c.Path, err)
	}
	return writeFileAtomic(c.Path, data, 0o600)
}

// CredsStore is the helper suffix the file names for every registry.
func (c *DockerConfig) CredsStore() string {
	var s string
	_ = json.Unmarshal(c.top["credsStore"], &s)
	return s
}

// CredHelpers maps registry keys to helper suffixes.
func (c *DockerConfig) CredHelpers() map[string]string {
	m := map[string]string{}
	_ = json.Unmarshal(c.top["credHelpers"], &m)
	return m
}

// HelperFor returns the helper suffix for key: credHelpers wins over
// credsStore, as in docker/cli's getConfiguredCredentialStore.
func (c *DockerConfig) HelperFor(key string) string {
	if h, ok := c.CredHelpers()[key]; ok {
		return h
	}
	return c.CredsStore()
}

// SetCredHelper records that key's credentials live in helper.
func (c *DockerConfig) SetCredHelper(key, helper string) error {
	m := c.CredHelpers()
	m[key] = helper
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	c.top["credHelpers"] = raw
	return nil
}

// Has reports whether auths has an entry for key; an empty placeholder
// left by a credential helper counts, which is how logout finds
// helper-backed logins.
func (c *DockerConfig) Has(key string) bool {
	_, ok := c.auths[key]
	return ok
}

// Keys lists the auths keys in order.
func (c *DockerConfig) Keys() []string {
	keys := make([]string, 0, len(c.auths))
	for k := range c.auths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Entry decodes the auths entry for key. When a host key has no exact
// entry, a legacy key for the same host written as a URL
// ("https://host/v1/") matches, as in docker/cli's file store; repository
// keys ("host/ns") only ever match exactly, so one repository's login is
// never used for another.
func (c *DockerConfig) Entry(key string) (AuthConfig, bool, error) {
	raw, ok := c.auths[key]
	if !ok && !strings.Contains(key, "/") {
		for _, k := range c.Keys() {
			if strings.Contains(k, "://") && hostOfKey(k) == key {
				raw, ok = c.auths[k], true
				break
			}
		}
	}
	if !ok {
		return AuthConfig{}, false, nil
	}
	a, err := decodeEntry(raw)
	if err != nil {
		return AuthConfig{}, false, fmt.Errorf("while reading credentials for %q in %s: %w", key, c.Path, err)
	}
	return a, true, nil
}

// SetEntry stores a in the file under key, replacing the previous
// credential keys and keeping any other key of the entry.
func (c *DockerConfig) SetEntry(key string, a AuthConfig) {
	e := c.clearedEntry(key)
	put := func(k, v string) {
		if v != "" {
			e[k], _ = json.Marshal(v)
		}
	}
	if a.Username != "" || a.Password != "" {
		put("auth", base64.StdEncoding.EncodeToString([]byte(a.Username+":"+a.Password)))
	}
	put("identitytoken", a.IdentityToken)
	put("registrytoken", a.RegistryToken)
	c.auths[key] = e
}

// SetPlaceholder leaves an entry with no secret for key: docker/cli does
// this when a helper holds the credentials, and Singularity's logout (and
// ours) look for it.
func (c *DockerConfig) SetPlaceholder(key string) { c.auths[key] = c.clearedEntry(key) }

// Remove deletes key's entry and reports whether there was one.
func (c *DockerConfig) Remove(key string) bool {
	_, ok := c.auths[key]
	delete(c.auths, key)
	return ok
}

func (c *DockerConfig) clearedEntry(key string) map[string]json.RawMessage {
	e := map[string]json.RawMessage{}
	for k, v := range c.auths[key] {
		if !isCredentialKey(k) {
			e[k] = v
		}
	}
	return e
}

func isCredentialKey(k string) bool {
	for _, c := range credentialKeys {
		if strings.EqualFold(k, c) {
			return true
		}
	}
	return false
}

func decodeEntry(raw map[string]json.RawMessage) (AuthConfig, error) {
	var e struct {
		Auth          string `json:"auth"`
		Username      string `json:"username"`
		Password      string `json:"password"`
		IdentityToken string `json:"identitytoken"`
		RegistryToken string `json:"registrytoken"`
	}
	data, err := json.Marshal(raw)
	if err != nil {
		return AuthConfig{}, err
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return AuthConfig{}, err
	}
	a := AuthConfig{Username: e.Username, Password: e.Password, IdentityToken: e.IdentityToken, RegistryToken: e.RegistryToken}
	if e.Auth != "" {
		if a.Username, a.Password, err = decodeAuth(e.Auth); err != nil {
			return AuthConfig{}, err
		}
	}
	return a, nil
}

// decodeAuth splits base64("user:pass") as docker/cli's decodeAuth does.
func decodeAuth(s string) (user, pass string, err error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", "", fmt.Errorf("invalid \"auth\" value: %w", err)
	}
	user, pass, ok := strings.Cut(string(b), ":")
	if !ok || user == "" {
		return "", "", errors.New(`invalid "auth" value: not base64("user:password")`)
	}
	return user, strings.Trim(pass, "\x00"), nil
}

// hostOfKey reduces a legacy URL key such as "https://index.docker.io/v1/"
// to its host[:port] (docker/cli's ConvertToHostname).
func hostOfKey(key string) string {
	if u, err := url.Parse(key); err == nil && u.Host != "" {
		return u.Host
	}
	return key
}
