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
)

// TokenIssuer is what the redirect needs of the OCI registry service.
type TokenIssuer interface {
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
// Anonymous callers, callers who may not push and pushes to frozen
// containers also get 404, so the Library API reports problems in its own
// words.
func (a *API) ociRedirect(w http.ResponseWriter, r *http.Request) error {
	if a.tokens == nil {
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
	name, err := a.lib.OCIPushTarget(r.Context(), p, q.Get("namespace"))
	if err != nil {
		return apperr.Wrap(apperr.NotFound, err, "no direct OCI push for %q", q.Get("namespace"))
	}
	base := httpx.BaseURL(r, a.publicURL)
	service := r.Host
	if u, err := url.Parse(base); err == nil && u.Host != "" {
		service = u.Host
	}
	tok, granted, err := a.tokens.IssueToken(r.Context(), p, service, name, actions)
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
