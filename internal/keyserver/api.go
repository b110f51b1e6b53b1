// Package keyserver is the HKP keyserver transport: what `singularity key
// push/search/pull` and `singularity verify` speak to the remote's
// keystoreAPI (docs/protocols/library-api.md §8, cited as LA §8), over the
// keys service (internal/pgpkeys), plus a small JSON API to list and
// remove keys. docs/keyserver.md.
package keyserver

import (
	"net/http"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/httpx"
	"github.com/silo-hpc/silo/internal/pgpkeys"
)

// API serves the keyserver.
type API struct {
	auth   *auth.Service
	keys   *pgpkeys.Service
	routes []Route
}

// Route is one endpoint (Go ServeMux pattern syntax).
type Route struct {
	Method, Pattern string
	h               httpx.Handler
}

// New returns the transport.
func New(authSvc *auth.Service, keys *pgpkeys.Service) *API {
	a := &API{auth: authSvc, keys: keys}
	a.routes = []Route{
		// LA §8. The paths are absolute whatever the keystoreAPI URI's
		// path (the client drops it).
		{"POST", "/pks/add", a.add},
		{"GET", "/pks/lookup", a.lookup},
		// Silo additions: list and remove keys (docs/keyserver.md).
		{"GET", "/v1/keys", a.list},
		{"DELETE", "/v1/keys/{fingerprint}", a.remove},
	}
	return a
}

// Routes lists the endpoints.
func (a *API) Routes() []Route { return a.routes }

// Register adds the routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	for _, rt := range a.routes {
		mux.Handle(rt.Method+" "+rt.Pattern, httpx.Adapt(writeError, rt.h))
	}
}

// principal authenticates the request's Bearer token (Singularity sends
// the remote's library token to its own keyserver, LA §8). No header is
// anonymous; a bad token is an error.
func (a *API) principal(r *http.Request) (auth.Principal, error) {
	tok, ok := httpx.BearerToken(r)
	if !ok {
		return auth.Principal{}, nil
	}
	return a.auth.CheckToken(r.Context(), tok)
}

// writeError is the one error writer: the JSON envelope scs-key-client
// decodes (jsonresp), {"error":{"code":N,"message":"..."}} (LA §8,
// "Errors"). 404 is "no keys", 401 "log in".
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	httpx.WriteEnvelopeError(w, r, httpx.Status(apperr.CodeOf(err)), err, "keyserver")
}

func writeJSON(w http.ResponseWriter, status int, v any) { httpx.WriteJSON(w, status, v) }
