package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/silo-hpc/silo/internal/client"
	"github.com/silo-hpc/silo/internal/credstore"
)

// defaultEntity and defaultCollection are the server's defaults for
// short refs (docs/library-api.md "Names and refs").
const (
	defaultEntity     = "default"
	defaultCollection = "default"
)

// libraryTarget is the Library API a library ref goes to.
type libraryTarget struct {
	lib  *client.Library
	host string // host[:port] of the remote, as library:// URIs name it
	base string // the remote's base URL
	// entity fills in a ref without one: the token's user, else the
	// server's default entity.
	entity string
}

// openLibrary picks the remote for ref: the active one when ref names no
// host; the configured remote with that host (its scheme and token) when
// there is one; else https://host (http with noHTTPS), anonymously, as
// Singularity does for a library:// ref that names a host
// (docs/protocols/library-api.md §3.4, §10).
func openLibrary(ctx context.Context, ref client.Ref, noHTTPS bool) (*libraryTarget, error) {
	cfg, err := loadRemotes()
	if err != nil {
		return nil, err
	}
	var r *credstore.Remote
	if ref.Host == "" {
		if r, _, err = cfg.Remote(""); err != nil {
			return nil, errors.New("no default remote: add one with `silo remote add NAME URI`, or name the host (library://HOST/entity/collection/container)")
		}
	} else {
		r = remoteForHost(cfg, ref.Host)
		if r == nil {
			r = &credstore.Remote{URI: ref.Host, Insecure: noHTTPS}
		}
	}
	base, err := r.BaseURL()
	if err != nil {
		return nil, err
	}
	services, err := client.Discover(ctx, clientHTTP, base)
	if err != nil {
		return nil, fmt.Errorf("while retrieving services of %s: %w", base, err)
	}
	svc, ok := services["library"]
	if !ok {
		return nil, fmt.Errorf("%s offers no library service", base)
	}
	u, _ := url.Parse(base)
	t := &libraryTarget{lib: &client.Library{URL: svc.URI, Token: r.Token, HTTP: transferHTTP}, host: u.Host, base: base,
		entity: defaultEntity}
	if r.Token != "" {
		name, err := t.lib.Username(ctx)
		if err != nil {
			return nil, fmt.Errorf("while checking the access token of %s: %w (log in again with `silo remote login`)", base, err)
		}
		t.entity = name
	}
	return t, nil
}

// remoteForHost finds a configured remote whose URI is host.
func remoteForHost(cfg *credstore.RemoteConfig, host string) *credstore.Remote {
	if r, _, err := cfg.Remote(""); err == nil && strings.TrimPrefix(r.URI, "//") == host {
		return r
	}
	for _, name := range cfg.Names() {
		if r := cfg.Remotes[name]; strings.TrimPrefix(r.URI, "//") == host {
			return r
		}
	}
	return nil
}

// path completes a ref's library path: entity/collection/container.
func (t *libraryTarget) path(ref client.Ref) string {
	e, c, n := ref.LibraryPath()
	if e == "" {
		e = t.entity
	}
	if c == "" {
		c = defaultCollection
	}
	return e + "/" + c + "/" + n
}

// short is how a container is shown: collection/container when its
// entity is the one short refs get here, so that what is shown can be
// typed back; entity/collection/container otherwise.
func (t *libraryTarget) short(entity, collection, container string) string {
	if entity == t.entity {
		return collection + "/" + container
	}
	return entity + "/" + collection + "/" + container
}

// uri is the full library:// URI of path:tag on this remote.
func (t *libraryTarget) uri(path, tag string) string {
	return "library://" + t.host + "/" + path + ":" + tag
}

// pageURL is the container's page on the server, as seed 004's search
// rows show it (the web UI's library/<path>, the containerUrl uploads
// answer).
func (t *libraryTarget) pageURL(path string) string {
	return t.base + "/library/" + path
}
