package ociapi

import (
	"net/http"
	"net/url"

	"github.com/silo-hpc/silo/internal/bearer"
	"github.com/silo-hpc/silo/internal/httpx"
	"github.com/silo-hpc/silo/internal/registry"
)

// caller authenticates the request: Basic (password or API token), Bearer
// (a registry token, or an API token), or none (anonymous).
func (a *API) caller(r *http.Request) (registry.Caller, error) {
	var cr bearer.Credentials
	if tok, ok := httpx.BearerToken(r); ok {
		cr.Bearer = tok
	} else if user, pass, ok := r.BasicAuth(); ok {
		cr.Basic, cr.Username, cr.Password = true, user, pass
	}
	return a.tokens.Authenticate(r.Context(), cr)
}

// realm is the token endpoint's URL and service the name tokens are for:
// the same host and port as the registry, which GGCR's realm checks
// require (notes §3.8).
func (a *API) realm(r *http.Request) (realm, service string) {
	base := httpx.BaseURL(r, a.publicURL)
	service = r.Host
	if u, err := url.Parse(base); err == nil && u.Host != "" {
		service = u.Host
	}
	return base + "/v2/token", service
}
