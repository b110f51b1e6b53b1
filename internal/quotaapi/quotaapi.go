// Package quotaapi is the JSON API of quotas (docs/quotas.md): a user
// reads its own quota and usage, admins set and list everyone's. Requests
// authenticate with an API token (Bearer), as the Library API does.
//
//	GET /api/quota                                  the caller's own quota
//	GET /api/quotas                                 every quota (admins)
//	GET /api/quota/users/{name}                     a user's
//	PUT /api/quota/users/{name}                     {"limit": bytes} (admins; 0 removes)
//	GET /api/quota/collections/{entity}/{collection}
//	PUT /api/quota/collections/{entity}/{collection}
//
// Answers are {"data": {"kind","name","limit","usage"}} (a list for
// /api/quotas); errors {"error": {"code": status, "message": "..."}}.
package quotaapi

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/httpx"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/quota"
)

// API serves the quota endpoints.
type API struct {
	auth   *auth.Service
	quotas *quota.Service
}

// New returns the quota API.
func New(a *auth.Service, q *quota.Service) *API { return &API{auth: a, quotas: q} }

// Register mounts the endpoints on mux.
func (a *API) Register(mux *http.ServeMux) {
	routes := []struct {
		pattern string
		h       httpx.Handler
	}{
		{"GET /api/quota", a.mine},
		{"GET /api/quotas", a.list},
		{"GET /api/quota/users/{name}", a.show(meta.QuotaUser)},
		{"PUT /api/quota/users/{name}", a.set(meta.QuotaUser)},
		{"GET /api/quota/collections/{entity}/{collection}", a.show(meta.QuotaCollection)},
		{"PUT /api/quota/collections/{entity}/{collection}", a.set(meta.QuotaCollection)},
	}
	for _, rt := range routes {
		mux.Handle(rt.pattern, httpx.Adapt(writeError, rt.h))
	}
}

// principal authenticates the request's Bearer token; none is anonymous.
func (a *API) principal(r *http.Request) (auth.Principal, error) {
	tok, ok := httpx.BearerToken(r)
	if !ok {
		return auth.Principal{}, nil
	}
	return a.auth.CheckToken(r.Context(), tok)
}

// subject names what a request is about: a user, or entity/collection.
func subject(r *http.Request, kind string) string {
	if kind == meta.QuotaUser {
		return r.PathValue("name")
	}
	return r.PathValue("entity") + "/" + r.PathValue("collection")
}

func (a *API) mine(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	rep, err := a.quotas.Mine(r.Context(), p)
	if err != nil {
		return err
	}
	return writeData(w, http.StatusOK, rep)
}

func (a *API) list(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	reps, err := a.quotas.List(r.Context(), p)
	if err != nil {
		return err
	}
	return writeData(w, http.StatusOK, reps)
}

func (a *API) show(kind string) httpx.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := a.principal(r)
		if err != nil {
			return err
		}
		rep, err := a.quotas.Show(r.Context(), p, kind, subject(r, kind))
		if err != nil {
			return err
		}
		return writeData(w, http.StatusOK, rep)
	}
}

// setRequest is a PUT's body.
type setRequest struct {
	Limit *int64 `json:"limit"`
}

func (a *API) set(kind string) httpx.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := a.principal(r)
		if err != nil {
			return err
		}
		var req setRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || req.Limit == nil {
			return apperr.New(apperr.Invalid, `want a JSON body {"limit": bytes} (0 removes the quota)`)
		}
		rep, err := a.quotas.Set(r.Context(), p, kind, subject(r, kind), *req.Limit)
		if err != nil {
			return err
		}
		return writeData(w, http.StatusOK, rep)
	}
}

// writeError is this API's one error writer.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	httpx.WriteEnvelopeError(w, r, httpx.Status(apperr.CodeOf(err)), err, "quota api")
}

func writeJSON(w http.ResponseWriter, status int, v any) { httpx.WriteJSON(w, status, v) }

func writeData(w http.ResponseWriter, status int, v any) error {
	writeJSON(w, status, map[string]any{"data": v})
	return nil
}
