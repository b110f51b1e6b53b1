package credstore

import (
	"context"
	"errors"
)

// DockerHubKey is the auths key every Docker tool uses for Docker Hub.
const DockerHubKey = "https://index.docker.io/v1/"

// RegistryKey maps a registry host (or host/path) to its auths key: Docker
// Hub's names share one historical key, everything else is itself.
func RegistryKey(host string) string {
	switch host {
	case "docker.io", "index.docker.io":
		return DockerHubKey
	}
	return host
}

// Store reads and writes the registry credentials of one Docker config
// file: in the file itself, or through the credential helper the file
// names for a registry (credHelpers, then credsStore).
type Store struct {
	Config *DockerConfig
}

// OpenStore loads the auth file at path (missing is empty).
func OpenStore(path string) (*Store, error) {
	c, err := LoadDockerConfig(path)
	if err != nil {
		return nil, err
	}
	return &Store{Config: c}, nil
}

// Path is the auth file's path.
func (s *Store) Path() string { return s.Config.Path }

// Get returns key's credentials; found is false when there are none.
func (s *Store) Get(ctx context.Context, key string) (a AuthConfig, found bool, err error) {
	if h := s.Config.HelperFor(key); h != "" {
		a, err := Helper{Name: h}.Get(ctx, key)
		if errors.Is(err, ErrHelperNotFound) {
			return AuthConfig{}, false, nil
		}
		if err != nil {
			return AuthConfig{}, false, err
		}
		return a, !a.IsEmpty(), nil
	}
	return s.Config.Entry(key)
}

// Put stores a for key and saves the file. A non-empty helper is used and
// recorded in credHelpers for key; otherwise the helper the file already
// names, if any, is used. It returns the helper that holds the secret, ""
// when the secret is in the file in plain text. Nothing is written when the
// helper fails.
func (s *Store) Put(ctx context.Context, key string, a AuthConfig, helper string) (string, error) {
	if helper != "" {
		if err := s.Config.SetCredHelper(key, helper); err != nil {
			return helper, err
		}
	} else {
		helper = s.Config.HelperFor(key)
	}
	if helper == "" {
		s.Config.SetEntry(key, a)
		return "", s.Config.Save()
	}
	if err := (Helper{Name: helper}).Store(ctx, key, a); err != nil {
		return helper, err
	}
	s.Config.SetPlaceholder(key)
	return helper, s.Config.Save()
}

// Delete erases key's credentials from its helper (if any) and from the
// file, and saves the file.
func (s *Store) Delete(ctx context.Context, key string) error {
	if h := s.Config.HelperFor(key); h != "" {
		if err := (Helper{Name: h}).Erase(ctx, key); err != nil && !errors.Is(err, ErrHelperNotFound) {
			return err
		}
	}
	s.Config.Remove(key)
	return s.Config.Save()
}
