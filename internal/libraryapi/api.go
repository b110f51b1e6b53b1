package libraryapi

import (
	"net/http"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/httpx"
)

// API serves the Library API.
type API struct {
	auth      *auth.Service
	publicURL string
}

// New returns the Library API transport.
func New(authSvc *auth.Service, publicURL string) *API {
	return &API{auth: authSvc, publicURL: publicURL}
}

// Register adds the Library API routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	h := func(pattern string, f httpx.Handler) { mux.Handle(pattern, httpx.Adapt(writeError, f)) }
	h("GET /assets/config/config.prod.json", a.discovery)
	h("GET /assets/config.json", a.discovery)
	h("GET /version", a.version)
	h("GET /v1/token-status", a.tokenStatus)
	// Unknown /v1 paths are 404 in the protocol's format, never a catch-all
	// 200: clients probe /v1/oci-redirect and fall back on non-200 (LA §5.1).
	h("/v1/", func(w http.ResponseWriter, r *http.Request) error {
		return apperr.New(apperr.NotFound, "no such endpoint")
	})
}

// principal authenticates the request's Bearer token. No header means
// anonymous; a bad token is an error (the client must not silently act
// anonymously with a token it believes valid).
func (a *API) principal(r *http.Request) (auth.Principal, error) {
	tok, ok := httpx.BearerToken(r)
	if !ok {
		return auth.Principal{}, nil
	}
	return a.auth.CheckToken(r.Context(), tok)
}
