// Package sregistryapi is the Singularity Registry Server API transport:
// what `singularity pull shub://` and sregistry-cli's registry backend
// speak (docs/protocols/sregistry-api.md, cited as SR §n). Every path is
// served bare (/api/..., /upload, /container/...) and under an entity
// (/<entity>/api/..., /<entity>/upload, ...), which names the entity
// sregistry's two-part names lack (docs/sregistry.md).
//
// Paths are matched by hand on the decoded path, with or without a
// trailing slash, and never redirected: a redirect turns the push POSTs
// into GETs and fails sregistry-cli's image HEAD (SR §7).
package sregistryapi

import (
	"net/http"
	"strings"

	"github.com/silo-hpc/silo/internal/httpx"
	"github.com/silo-hpc/silo/internal/sregistry"
)

// API serves the sregistry API.
type API struct {
	svc       *sregistry.Service
	publicURL string
	routes    []Route
}

// Route is one endpoint. Path is the part after ".../api/" (API true) or
// after the root or entity; "{x}" segments are parameters.
type Route struct {
	Method string
	API    bool
	Path   string
	h      handler
}

// Pattern is the route as metrics and tests name it.
func (rt Route) Pattern(entity bool) string {
	p := "/"
	if entity {
		p += "{entity}/"
	}
	if rt.API {
		p += "api/"
	}
	return rt.Method + " " + p + rt.Path
}

// params are a matched route's parameters.
type params struct {
	entity string
	vals   map[string]string
}

func (p params) get(k string) string { return p.vals[k] }

type handler func(w http.ResponseWriter, r *http.Request, p params) error

// New returns the transport over the sregistry service.
func New(svc *sregistry.Service, publicURL string) *API {
	a := &API{svc: svc, publicURL: publicURL}
	// SR §6, the minimal endpoint set, plus the optional ones. Searches
	// come before the manifest route, which has fewer segments anyway.
	a.routes = []Route{
		{"GET", true, "container/search/collection/{collection}/name/{name}/tag/{tag}", a.search},
		{"GET", true, "container/search/collection/{collection}/name/{name}", a.search},
		{"GET", true, "container/search/name/{name}/tag/{tag}", a.search},
		{"GET", true, "container/search/name/{name}", a.search},
		{"GET", true, "container/{collection}/{ref}", a.getContainer},
		{"DELETE", true, "container/{collection}/{ref}", a.deleteContainer},
		{"GET", true, "collections", a.collections},
		{"GET", true, "collection/{collection}", a.collection},
		{"POST", true, "upload/chunked_upload", a.startPush},
		{"GET", true, "labels/search", a.labels},
		{"GET", true, "labels/search/{key}/key", a.labels},
		{"GET", true, "labels/search/{value}/value", a.labels},
		{"GET", true, "labels/search/{key}/key/{value}/value", a.labels},
		{"GET", true, "registry/identity", a.identity},
		// Image URLs (the manifest's "image"): the path is the credential.
		{"GET", true, "download/{collection}/{digest}/{mac}", a.download},
		// Silo addition: revoke a collection's image URLs.
		{"POST", true, "collection/{collection}/secret", a.rotate},
		// sregistry-cli without /api when a registry is in the image name
		// (SR §1), and the upload, which it sends to the base without /api.
		{"POST", false, "upload", a.upload},
		{"POST", false, "upload/chunked_upload", a.startPush},
		{"DELETE", false, "container/{collection}/{ref}", a.deleteContainer},
	}
	return a
}

// Routes lists the endpoints.
func (a *API) Routes() []Route { return a.routes }

// Register mounts the bare forms on mux. The web UI's exact /api, /api/
// and /api/openapi.json are more specific patterns, so they stay its.
func (a *API) Register(mux *http.ServeMux) {
	for _, p := range []string{"/api/", "/upload", "/upload/", "/container/"} {
		mux.Handle(p, a)
	}
}

// Around serves the /<entity>/... forms of requests no route of next
// claims (none but a catch-all "/"): they cannot be mux patterns, whose
// leading wildcard would overlap every other subtree (/v1/, /v2/, ...).
func (a *API) Around(next *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if entityForm(r.URL.Path) {
			if _, pattern := next.Handler(r); pattern == "" || pattern == "/" {
				a.ServeHTTP(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// entityForm reports whether a path looks like /<entity>/api/...,
// /<entity>/upload... or /<entity>/container/....
// It runs on every request, so it does not allocate.
func entityForm(path string) bool {
	rest := strings.TrimPrefix(path, "/")
	i := strings.IndexByte(rest, '/')
	if i <= 0 {
		return false
	}
	second := rest[i+1:]
	if j := strings.IndexByte(second, '/'); j >= 0 {
		second = second[:j]
	}
	return second == "api" || second == "upload" || second == "container"
}

// ServeHTTP routes a request: bare forms first, then the entity forms.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/"), "/")
	var p params
	rt, allowed := a.match(r.Method, segs, &p)
	if rt == nil && len(segs) > 1 {
		rt2, allowed2 := a.match(r.Method, segs[1:], &p)
		if rt2 != nil {
			p.entity = segs[0]
		}
		if rt2 != nil || allowed == "" {
			rt, allowed = rt2, allowed2
		}
	}
	ew := httpx.Adapt(writeError, func(w http.ResponseWriter, r *http.Request) error {
		switch {
		case rt != nil:
			r.Pattern = rt.Pattern(p.entity != "")
			return rt.h(w, r, p)
		case allowed != "":
			w.Header().Set("Allow", allowed)
			return errMethod(r.Method)
		}
		return errNoEndpoint
	})
	ew.ServeHTTP(w, r)
}

// match finds the route for method and path segments (after the root or
// entity), filling p; allowed lists the methods of a path that matched
// with another method.
func (a *API) match(method string, segs []string, p *params) (*Route, string) {
	api := len(segs) > 0 && segs[0] == "api"
	if api {
		segs = segs[1:]
	}
	var allowed []string
	for i := range a.routes {
		rt := &a.routes[i]
		if rt.API != api {
			continue
		}
		vals, ok := matchPath(rt.Path, segs)
		if !ok {
			continue
		}
		if rt.Method == method || (rt.Method == "GET" && method == "HEAD") {
			p.vals = vals
			return rt, ""
		}
		allowed = append(allowed, rt.Method)
	}
	return nil, strings.Join(allowed, ", ")
}

// matchPath matches segments against a route path.
func matchPath(pattern string, segs []string) (map[string]string, bool) {
	want := strings.Split(pattern, "/")
	if len(want) != len(segs) {
		return nil, false
	}
	vals := map[string]string{}
	for i, w := range want {
		switch {
		case strings.HasPrefix(w, "{"):
			if segs[i] == "" {
				return nil, false
			}
			vals[strings.Trim(w, "{}")] = segs[i]
		case w != segs[i]:
			return nil, false
		}
	}
	return vals, true
}

// baseURL is the absolute URL image and detail URLs are built on.
func (a *API) baseURL(r *http.Request) string { return httpx.BaseURL(r, a.publicURL) }
