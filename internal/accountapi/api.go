// Package accountapi is the JSON API behind everything the web UI does
// that the Library API does not: API tokens, accounts, teams, team grants
// on collections and the live server settings (docs/web-ui.md, "JSON
// API"; the OpenAPI document at /api/openapi.json describes each
// endpoint). Callers authenticate with an API token as a Bearer token,
// never with a browser cookie, so no request here can be forged by
// another site. Bodies and errors take the Library API's shapes
// ({"data": ...}, {"error": {"code", "message"}}).
package accountapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/httpx"
	"github.com/silo-hpc/silo/internal/library"
	"github.com/silo-hpc/silo/internal/settings"
)

// API serves the account API.
type API struct {
	auth     *auth.Service
	lib      *library.Service
	settings *settings.Service
	routes   []Route
}

// Route is one endpoint (Go ServeMux pattern syntax).
type Route struct {
	Method, Pattern string
	h               httpx.Handler
}

// New returns the account API over the services.
func New(a *auth.Service, lib *library.Service, st *settings.Service) *API {
	api := &API{auth: a, lib: lib, settings: st}
	api.routes = []Route{
		{"GET", "/v1/tokens", api.listTokens},
		{"POST", "/v1/tokens", api.createToken},
		{"DELETE", "/v1/tokens/{id}", api.revokeToken},
		{"POST", "/v1/account/password", api.changePassword},
		{"GET", "/v1/users", api.listUsers},
		{"POST", "/v1/users", api.createUser},
		{"GET", "/v1/users/{name}", api.getUser},
		{"PATCH", "/v1/users/{name}", api.updateUser},
		{"GET", "/v1/teams", api.listTeams},
		{"POST", "/v1/teams", api.createTeam},
		{"GET", "/v1/teams/{name}", api.getTeam},
		{"DELETE", "/v1/teams/{name}", api.deleteTeam},
		{"PUT", "/v1/teams/{name}/members/{user}", api.addMember},
		{"DELETE", "/v1/teams/{name}/members/{user}", api.removeMember},
		{"GET", "/v1/grants/{collection}", api.listGrants},
		{"PUT", "/v1/grants/{collection}/{team}", api.grant},
		{"DELETE", "/v1/grants/{collection}/{team}", api.revokeGrant},
		{"GET", "/v1/settings", api.getSettings},
		{"PATCH", "/v1/settings", api.updateSettings},
	}
	return api
}

// Routes lists the endpoints.
func (a *API) Routes() []Route { return a.routes }

// Register adds the routes to mux. They sit beside the Library API's
// under /v1 (none of their paths is one of its), answering in its
// formats.
func (a *API) Register(mux *http.ServeMux) {
	for _, rt := range a.routes {
		mux.Handle(rt.Method+" "+rt.Pattern, httpx.Adapt(writeError, rt.h))
	}
}

// principal authenticates the Bearer token; none is anonymous (which
// every endpoint then refuses), a bad one an error.
func (a *API) principal(r *http.Request) (auth.Principal, error) {
	tok, ok := httpx.BearerToken(r)
	if !ok {
		return auth.Principal{}, nil
	}
	return a.auth.CheckToken(r.Context(), tok)
}

// writeError is this API's one error writer: the Library API's envelope.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteEnvelopeError(w, r, httpx.Status(apperr.CodeOf(err)), err, "account api")
}

// writeJSON writes v; nothing here may be cached (tokens, accounts).
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, status, v)
}

// writeData writes the success envelope {"data": v}.
func writeData(w http.ResponseWriter, status int, v any) {
	writeJSON(w, status, map[string]any{"data": v})
}

// maxBody bounds request bodies: every one here is a small object.
const maxBody = 64 << 10

// decode reads a JSON object body strictly: unknown fields are errors, so
// a misspelt field never silently does nothing.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return apperr.New(apperr.Invalid, "a JSON object body is required")
		}
		return apperr.New(apperr.Invalid, "invalid JSON body: %v", err)
	}
	return nil
}

// stamp is a time that encodes as RFC 3339, or null when unset.
type stamp time.Time

func (t stamp) MarshalJSON() ([]byte, error) {
	if time.Time(t).IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(time.Time(t).UTC().Format(time.RFC3339))
}
