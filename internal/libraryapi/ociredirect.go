package libraryapi

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/httpx"
	"github.com/silo-hpc/silo/internal/library"
)

// registryTokens is what the redirect needs of the OCI registry service.
// The registry is the library's Mirror (it keeps the OCI view of library
// containers), so it is reached through that field.
type registryTokens interface {
	IssueToken(ctx context.Context, p auth.Principal, service, name string, actions []string) (string, []string, error)
}

// ociRedirect answers the probe current clients send before every push
// and pull (LA §5.1, L1): 200 with {"token","url","name"} (no envelope)
// sends them to this server's /v2 with a registry token for the mapped
// entity/collection/container; anything else makes them use the Library
// API.
//
// Pushes are redirected: scs-library-client then uploads the SIF over OCI
// (chunked, with its own image config) and tags it with an index, which
// the registry turns into library images and tags. Pull-only probes are
// not: the client's OCI pull insists on an image config with architecture
// and rootfs, which SIF artifacts as Singularity pushes them (config {})
// do not have, so the Library API serves pulls of every image.
// Anonymous callers and callers who may not push also get 404, so the
// Library API reports the problem in its own words.
func (a *API) ociRedirect(w http.ResponseWriter, r *http.Request) error {
	reg, ok := a.lib.Mirror.(registryTokens)
	if !ok {
		return apperr.New(apperr.NotFound, "direct OCI access is not available")
	}
	q := r.URL.Query()
	actions := strings.Split(q.Get("accessTypes"), ",")
	if !slices.Contains(actions, "push") {
		return apperr.New(apperr.NotFound, "pulls use the Library API")
	}
	p, err := a.principal(r)
	if err != nil || p.Anonymous() {
		return apperr.New(apperr.NotFound, "direct OCI access needs a valid token")
	}
	ref, err := library.ParseImageRef(q.Get("namespace"))
	if err != nil {
		return apperr.Wrap(apperr.NotFound, err, "no OCI name for %q", q.Get("namespace"))
	}
	name := ref.Entity + "/" + ref.Collection + "/" + ref.Container
	base := httpx.BaseURL(r, a.publicURL)
	service := r.Host
	if u, err := url.Parse(base); err == nil && u.Host != "" {
		service = u.Host
	}
	tok, granted, err := reg.IssueToken(r.Context(), p, service, name, actions)
	if err != nil {
		return err
	}
	if !slices.Contains(granted, "push") {
		return apperr.New(apperr.NotFound, "no direct OCI push access to %s", name)
	}
	// The client resolves "v2/<name>/..." against url: a trailing slash
	// keeps a path prefix of the public URL.
	writeJSON(w, http.StatusOK, map[string]string{"token": tok, "url": base + "/", "name": name})
	return nil
}
