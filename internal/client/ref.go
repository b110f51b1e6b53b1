package client

import (
	"fmt"
	"strings"
)

// Schemes a ref may name.
const (
	SchemeLibrary = "library"
	SchemeOras    = "oras"
	SchemeDocker  = "docker"
	SchemeShub    = "shub"
)

// Ref is an image reference as a user types it:
//
//	library://[host/]entity/collection/container[:tag][@version]
//	[entity/]collection/container[:tag][@version]   (library, the active remote)
//	oras://host/name[:tag|@sha256:hex]    docker://host/name[:tag|@sha256:hex]
//	shub://host/collection/container[:tag][@version]
//
// registry:// (sregistry-cli's prefix, seed 004) is read as library://.
type Ref struct {
	Scheme string
	Host   string // "" for library: the active remote
	// Path is the part after the host: for library [entity/]collection/
	// container (or one name), for oras/docker the repository, for shub
	// collection/container.
	Path string
	Tags []string // library push may set several (comma-separated); empty = latest
	// Digest is an OCI "sha256:<hex>" (oras, docker) after "@".
	Digest string
	// Version is what follows "@" in library and shub refs: the image's
	// sha256 hex (sregistry-cli's version), or a prefix of it.
	Version string
}

// Tag is the first tag, "latest" when none was given.
func (r Ref) Tag() string {
	if len(r.Tags) == 0 {
		return "latest"
	}
	return r.Tags[0]
}

// ParseRef reads a ref; a ref without a scheme is a library ref.
func ParseRef(raw string) (Ref, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		scheme, rest = SchemeLibrary, raw
	}
	if scheme == "registry" {
		scheme = SchemeLibrary
	}
	var r Ref
	var err error
	switch scheme {
	case SchemeLibrary:
		r, err = parseLibrary(rest, ok)
	case SchemeShub:
		r, err = parseShub(rest)
	case SchemeOras, SchemeDocker:
		r, err = parseOCI(rest)
	default:
		return Ref{}, fmt.Errorf("unsupported transport %q in %s: use library://, oras://, docker:// or shub://", scheme, raw)
	}
	if err != nil {
		return Ref{}, fmt.Errorf("invalid image reference %s: %w", raw, err)
	}
	r.Scheme = scheme
	return r, nil
}

// parseLibrary follows SingularityCE's split (docs/protocols/library-api.md
// §10): with a scheme and more than two slashes the first component is
// the host. Without a scheme (the short forms of seed 004) there is never
// a host.
func parseLibrary(s string, withScheme bool) (Ref, error) {
	var r Ref
	s, r.Version = cutLast(s, "@")
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		if s[i+1:] == "" {
			return r, fmt.Errorf("empty tag")
		}
		r.Tags = strings.Split(s[i+1:], ",")
		s = s[:i]
	}
	if withScheme && strings.Count(s, "/") > 2 {
		r.Host, s, _ = strings.Cut(s, "/")
	}
	if err := checkPath(s, 3); err != nil {
		return r, err
	}
	r.Path = s
	return r, nil
}

// parseShub reads host/collection/container[:tag][@version]; unlike
// Singularity, the host may carry a port.
func parseShub(s string) (Ref, error) {
	var r Ref
	s, r.Version = cutLast(s, "@")
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		r.Tags, s = []string{s[i+1:]}, s[:i]
	}
	parts := strings.Split(s, "/")
	if len(parts) < 3 {
		return r, fmt.Errorf("a shub:// reference is host/collection/container[:tag]")
	}
	r.Host, r.Path = strings.Join(parts[:len(parts)-2], "/"), strings.Join(parts[len(parts)-2:], "/")
	return r, checkPath(r.Path, 2)
}

// parseOCI reads host/repository[:tag][@digest].
func parseOCI(s string) (Ref, error) {
	var r Ref
	s, r.Digest = cutLast(s, "@")
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		r.Tags, s = []string{s[i+1:]}, s[:i]
	}
	host, repo, ok := strings.Cut(s, "/")
	if !ok || host == "" {
		return r, fmt.Errorf("a registry host and a repository are needed (host/name[:tag])")
	}
	if r.Digest != "" && !strings.HasPrefix(r.Digest, "sha256:") {
		return r, fmt.Errorf("digest %q is not sha256:<hex>", r.Digest)
	}
	r.Host, r.Path = host, repo
	return r, checkPath(repo, 0)
}

// checkPath refuses empty components and more than max of them (0: any).
func checkPath(p string, max int) error {
	parts := strings.Split(p, "/")
	if max > 0 && len(parts) > max {
		return fmt.Errorf("too many path components in %q", p)
	}
	for _, c := range parts {
		if c == "" {
			return fmt.Errorf("empty path component in %q", p)
		}
	}
	return nil
}

func cutLast(s, sep string) (string, string) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):]
	}
	return s, ""
}

// LibraryPath splits a library Path into its parts; the ones a short
// ref leaves out are "".
func (r Ref) LibraryPath() (entity, collection, container string) {
	parts := strings.Split(r.Path, "/")
	switch len(parts) {
	case 1:
		return "", "", parts[0]
	case 2:
		return "", parts[0], parts[1]
	}
	return parts[0], parts[1], parts[2]
}
