// Package credstore keeps the client's credentials: registry logins in a
// Docker config.json (the format Singularity, docker, crane, oras and skopeo
// all read), credential helpers named by that file, and library remotes with
// their tokens in remote.yaml. It also resolves which credentials a pull or
// push uses.
package credstore

import (
	"fmt"
	"os"
	"path/filepath"
)

// Environment variables that move the client's files.
const (
	EnvConfigDir = "SILO_CONFIGDIR" // replaces ~/.silo
	EnvAuthFile  = "SILO_AUTHFILE"  // same as --authfile
)

// File names inside the config directory, as Singularity names them.
const (
	DockerConfigName = "docker-config.json"
	RemoteConfigName = "remote.yaml"
)

// ConfigDir returns $SILO_CONFIGDIR, or ~/.silo.
func ConfigDir() (string, error) {
	if d := os.Getenv(EnvConfigDir); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find the home directory for ~/.silo (set %s): %w", EnvConfigDir, err)
	}
	return filepath.Join(home, ".silo"), nil
}

// DefaultAuthFile is where registry logins go without --authfile.
func DefaultAuthFile() (string, error) {
	dir, err := ConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, DockerConfigName), nil
}

// RemoteConfigFile is the path of remote.yaml.
func RemoteConfigFile() (string, error) {
	dir, err := ConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, RemoteConfigName), nil
}

// AuthFile picks the auth file: the --authfile value, else $SILO_AUTHFILE,
// else the default. explicit reports whether the user chose the file; like
// Singularity, an explicit file keeps remote.yaml out of login/logout and
// makes an unreadable file worth a warning when pulling.
func AuthFile(flag string) (path string, explicit bool, err error) {
	if flag != "" {
		return flag, true, nil
	}
	if env := os.Getenv(EnvAuthFile); env != "" {
		return env, true, nil
	}
	path, err = DefaultAuthFile()
	return path, false, err
}
