package credstore

import (
	"context"
	"os"
)

// ResolveOptions is what a pull or push command line says about
// credentials.
type ResolveOptions struct {
	Username string // --docker-username
	Password string // --docker-password
	AuthFile string // --authfile ("" = $SILO_AUTHFILE, else the default)
	// Warnf reports a recoverable problem (an explicit auth file that
	// cannot be read); nil discards it.
	Warnf func(format string, args ...any)
}

// Source says where resolved credentials came from.
type Source string

const (
	SourceAnonymous Source = "anonymous"
	SourceFlags     Source = "flags"
	SourceSiloEnv   Source = "SILO_DOCKER_USERNAME/SILO_DOCKER_PASSWORD"
	SourceDockerEnv Source = "DOCKER_USERNAME/DOCKER_PASSWORD"
	SourceAuthFile  Source = "auth file"
)

// Resolved is the outcome of Resolve.
type Resolved struct {
	AuthConfig
	Source Source
	File   string // the auth file, when Source is SourceAuthFile
	Key    string // the auths key that matched
}

// Resolve picks the credentials a pull or push of host/repository uses,
// highest first (Singularity's order, docs/protocols/oci-and-auth.md §4.5):
//  1. --docker-username / --docker-password
//  2. SILO_DOCKER_USERNAME / SILO_DOCKER_PASSWORD
//  3. DOCKER_USERNAME / DOCKER_PASSWORD
//  4. the auth file: the repository key host/repository, then host
//  5. anonymous
//
// Username and password are resolved separately, each from the first level
// that sets it; a SILO_ variable that is set but empty stops the fall back
// to the bare DOCKER_ one. Explicit credentials replace the auth file
// entirely.
func Resolve(ctx context.Context, opts ResolveOptions, host, repository string) (Resolved, error) {
	user, userSrc := pick(opts.Username, "SILO_DOCKER_USERNAME", "DOCKER_USERNAME")
	pass, passSrc := pick(opts.Password, "SILO_DOCKER_PASSWORD", "DOCKER_PASSWORD")
	if user != "" || pass != "" {
		src := userSrc
		if user == "" {
			src = passSrc
		}
		return Resolved{AuthConfig: AuthConfig{Username: user, Password: pass}, Source: src}, nil
	}
	return fromAuthFile(ctx, opts, host, repository)
}

// pick returns the first of flag, $prefixed, $bare that applies.
func pick(flag, prefixed, bare string) (string, Source) {
	if flag != "" {
		return flag, SourceFlags
	}
	if v, ok := os.LookupEnv(prefixed); ok {
		return v, SourceSiloEnv
	}
	return os.Getenv(bare), SourceDockerEnv
}

func fromAuthFile(ctx context.Context, opts ResolveOptions, host, repository string) (Resolved, error) {
	anon := Resolved{Source: SourceAnonymous}
	path, explicit, err := AuthFile(opts.AuthFile)
	if err != nil {
		return anon, nil // no home directory: nothing stored to find
	}
	s, err := OpenStore(path)
	if err != nil {
		if explicit && opts.Warnf != nil {
			opts.Warnf("Unable to find matching credentials in specified file (%v); proceeding with anonymous authentication.", err)
		}
		return anon, nil
	}
	keys := []string{RegistryKey(host)}
	if repository != "" {
		keys = append([]string{host + "/" + repository}, keys...)
	}
	for _, key := range keys {
		a, found, err := s.Get(ctx, key)
		if err != nil {
			return anon, err
		}
		if found {
			return Resolved{AuthConfig: a, Source: SourceAuthFile, File: path, Key: key}, nil
		}
	}
	return anon, nil
}
