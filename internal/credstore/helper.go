package credstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// ErrHelperNotFound is a helper's answer when it holds nothing for a server.
var ErrHelperNotFound = errors.New("credentials not found in native keychain")

// identityTokenUser is the username docker/cli stores with an identity
// token, so that a helper's single Secret can carry either kind.
const identityTokenUser = "<token>"

// Helper runs the credential helper docker-credential-<Name>, speaking the
// protocol of docker-credential-helpers (docs/protocols/oci-and-auth.md §5.1): the action
// in argv[1], the request on stdin, the answer on stdout; a failure exits
// non-zero with its message on stdout.
type Helper struct {
	Name string
}

// Program is the executable's name, looked up in PATH.
func (h Helper) Program() string { return "docker-credential-" + h.Name }

type helperCreds struct {
	ServerURL string `json:"ServerURL"`
	Username  string `json:"Username"`
	Secret    string `json:"Secret"`
}

// Get returns the credentials for serverURL, or ErrHelperNotFound.
func (h Helper) Get(ctx context.Context, serverURL string) (AuthConfig, error) {
	out, err := h.run(ctx, "get", []byte(serverURL))
	if err != nil {
		return AuthConfig{}, err
	}
	var c helperCreds
	if err := json.Unmarshal(out, &c); err != nil {
		return AuthConfig{}, fmt.Errorf("%s get: invalid answer: %w", h.Program(), err)
	}
	if c.Username == identityTokenUser {
		return AuthConfig{IdentityToken: c.Secret}, nil
	}
	return AuthConfig{Username: c.Username, Password: c.Secret}, nil
}

// Store saves a for serverURL.
func (h Helper) Store(ctx context.Context, serverURL string, a AuthConfig) error {
	c := helperCreds{ServerURL: serverURL, Username: a.Username, Secret: a.Password}
	if a.IdentityToken != "" {
		c.Username, c.Secret = identityTokenUser, a.IdentityToken
	}
	in, err := json.Marshal(c)
	if err != nil {
		return err
	}
	_, err = h.run(ctx, "store", in)
	return err
}

// Erase forgets serverURL; ErrHelperNotFound if there was nothing.
func (h Helper) Erase(ctx context.Context, serverURL string) error {
	_, err := h.run(ctx, "erase", []byte(serverURL))
	return err
}

// List maps every stored server URL to its username.
func (h Helper) List(ctx context.Context) (map[string]string, error) {
	// The Go client of docker-credential-helpers writes "unused"; some
	// helpers block until stdin has something.
	out, err := h.run(ctx, "list", []byte("unused"))
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, fmt.Errorf("%s list: invalid answer: %w", h.Program(), err)
	}
	return m, nil
}

func (h Helper) run(ctx context.Context, action string, stdin []byte) ([]byte, error) {
	if h.Name == "" || strings.ContainsAny(h.Name, `/\`) {
		return nil, fmt.Errorf("invalid credential helper name %q", h.Name)
	}
	cmd := exec.CommandContext(ctx, h.Program(), action)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err == nil {
		return out, nil
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return nil, fmt.Errorf("credential helper %s: %w", h.Program(), err)
	}
	msg := strings.TrimSpace(string(out))
	if msg == ErrHelperNotFound.Error() {
		return nil, ErrHelperNotFound
	}
	if msg == "" {
		msg = strings.TrimSpace(stderr.String())
	}
	return nil, fmt.Errorf("credential helper %s %s: %s", h.Program(), action, msg)
}
