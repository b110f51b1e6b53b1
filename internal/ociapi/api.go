// Package ociapi is the OCI Distribution v1.1 transport (/v2/...) and the
// registry token endpoint (/v2/token) on the same host and port. Handlers
// parse, call one registry.Service method and encode; the rules live in
// internal/registry. Spec citations refer to the OCI Distribution
// Specification and to ../shared/protocols/oci-and-auth.md ("notes §n").
package ociapi

import (
	"net/http"
	"regexp"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/httpx"
	"github.com/silo-hpc/silo/internal/oci"
	"github.com/silo-hpc/silo/internal/registry"
)

// API serves /v2.
type API struct {
	svc       *registry.Service
	publicURL string
	routes    []route
}

// New returns the OCI transport.
func New(svc *registry.Service, publicURL string) *API {
	a := &API{svc: svc, publicURL: publicURL}
	a.routes = []route{
		{regexp.MustCompile(`^/v2/(.+)/blobs/uploads/?$`), map[string]handler{
			http.MethodPost: a.startUpload,
		}},
		{regexp.MustCompile(`^/v2/(.+)/blobs/uploads/([^/]+)$`), map[string]handler{
			http.MethodPatch: a.patchUpload, http.MethodPut: a.finishUpload,
			http.MethodGet: a.uploadStatus, http.MethodDelete: a.cancelUpload,
		}},
		{regexp.MustCompile(`^/v2/(.+)/blobs/([^/]+)$`), map[string]handler{
			http.MethodGet: a.getBlob, http.MethodHead: a.getBlob, http.MethodDelete: a.deleteBlob,
		}},
		{regexp.MustCompile(`^/v2/(.+)/manifests/([^/]+)$`), map[string]handler{
			http.MethodGet: a.getManifest, http.MethodHead: a.getManifest,
			http.MethodPut: a.putManifest, http.MethodDelete: a.deleteManifest,
		}},
		{regexp.MustCompile(`^/v2/(.+)/tags/list$`), map[string]handler{http.MethodGet: a.listTags}},
		{regexp.MustCompile(`^/v2/(.+)/referrers/([^/]+)$`), map[string]handler{http.MethodGet: a.referrers}},
	}
	return a
}

// handler is a repository handler: name and the path's last parameter
// ("" when the route has none) come from the router.
type handler func(w http.ResponseWriter, r *http.Request, name, param string) error

// route matches a repository path. Names contain slashes, so the router
// matches the longest name before a known resource suffix (notes §6.2).
type route struct {
	re      *regexp.Regexp
	methods map[string]handler
}

// Register adds /v2/ to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle("/v2/", httpx.Adapt(a.writeError, a.serve))
}

func (a *API) serve(w http.ResponseWriter, r *http.Request) error {
	// Every response says which API this is; some clients look for it on
	// 200 and 401 alike (notes §1.2).
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	switch r.URL.Path {
	case "/v2/", "/v2":
		return a.base(w, r)
	case "/v2/token":
		return a.token(w, r)
	case "/v2/_catalog":
		if r.Method != http.MethodGet {
			return unsupported()
		}
		return a.catalog(w, r)
	}
	for _, rt := range a.routes {
		m := rt.re.FindStringSubmatch(r.URL.Path)
		if m == nil {
			continue
		}
		h, ok := rt.methods[r.Method]
		if !ok {
			return unsupported()
		}
		param := ""
		if len(m) > 2 {
			param = m[2]
		}
		return h(w, r, m[1], param)
	}
	return oci.Errorf(oci.CodeNameUnknown, apperr.NotFound, "no such endpoint")
}

func unsupported() error {
	return oci.Errorf(oci.CodeUnsupported, apperr.Invalid, "method not supported here")
}

// base is end-1: 200 to callers with valid credentials, 401 with a
// challenge to anonymous ones so clients learn where to get a token, and
// 401 for bad credentials so `login` commands can verify them.
func (a *API) base(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return unsupported()
	}
	c, err := a.caller(r)
	if err != nil {
		return err
	}
	if c.Anonymous() {
		return oci.Unauthorized("", false)
	}
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}
