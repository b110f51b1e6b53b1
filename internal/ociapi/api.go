// Package ociapi is the OCI Distribution v1.1 transport (/v2/...) and the
// registry token endpoint (/v2/token) on the same host and port. Handlers
// parse, call one service method and encode; the rules live in
// internal/registry and internal/bearer. Spec citations refer to the OCI
// Distribution Specification and to docs/protocols/oci-and-auth.md
// ("notes §n").
package ociapi

import (
	"net/http"
	"strings"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/bearer"
	"github.com/silo-hpc/silo/internal/oci"
	"github.com/silo-hpc/silo/internal/registry"
)

// API serves /v2.
type API struct {
	svc       *registry.Service
	tokens    *bearer.Service
	publicURL string
	routes    []Route
}

// Route is one OCI endpoint: a method on a repository path, and the
// actions on the repository a token must grant for it (what a challenge
// for it names).
type Route struct {
	Method string
	// Pattern is the path with <name> for the repository and <param> for
	// the last parameter (a digest, reference or session id).
	Pattern string
	Actions []string
	shape   shape
	h       handler
}

// Write reports whether the route changes the repository.
func (r Route) Write() bool {
	for _, a := range r.Actions {
		if a != oci.ActionPull {
			return true
		}
	}
	return false
}

var (
	pull     = []string{oci.ActionPull}
	pullPush = []string{oci.ActionPull, oci.ActionPush}
	del      = []string{oci.ActionDelete}
)

// New returns the OCI transport.
func New(svc *registry.Service, tokens *bearer.Service, publicURL string) *API {
	a := &API{svc: svc, tokens: tokens, publicURL: publicURL}
	a.routes = []Route{
		{"POST", "/v2/<name>/blobs/uploads/", pullPush, uploadsShape, a.startUpload},
		{"PATCH", "/v2/<name>/blobs/uploads/<param>", pullPush, sessionShape, a.patchUpload},
		{"PUT", "/v2/<name>/blobs/uploads/<param>", pullPush, sessionShape, a.finishUpload},
		{"GET", "/v2/<name>/blobs/uploads/<param>", pullPush, sessionShape, a.uploadStatus},
		{"DELETE", "/v2/<name>/blobs/uploads/<param>", pullPush, sessionShape, a.cancelUpload},
		{"GET", "/v2/<name>/blobs/<param>", pull, blobShape, a.getBlob},
		{"HEAD", "/v2/<name>/blobs/<param>", pull, blobShape, a.getBlob},
		{"DELETE", "/v2/<name>/blobs/<param>", del, blobShape, a.deleteBlob},
		{"GET", "/v2/<name>/manifests/<param>", pull, manifestShape, a.getManifest},
		{"HEAD", "/v2/<name>/manifests/<param>", pull, manifestShape, a.getManifest},
		{"PUT", "/v2/<name>/manifests/<param>", pullPush, manifestShape, a.putManifest},
		{"DELETE", "/v2/<name>/manifests/<param>", del, manifestShape, a.deleteManifest},
		{"GET", "/v2/<name>/tags/list", pull, tagsShape, a.listTags},
		{"GET", "/v2/<name>/referrers/<param>", pull, referrersShape, a.referrers},
	}
	return a
}

// shape is the form of a repository path: the resource after the name.
type shape int

const (
	noShape shape = iota
	uploadsShape
	sessionShape
	blobShape
	manifestShape
	tagsShape
	referrersShape
)

// parsePath splits /v2/<name>/<resource> (notes §6.2). Names contain
// slashes, so the name is everything before a known resource suffix, and
// the last segment is the parameter. Every request is routed this way,
// so it is string work, not regular expressions.
func parsePath(path string) (shape, string, string) {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return noShape, "", ""
	}
	for _, s := range []struct {
		suffix string
		shape  shape
	}{{"/blobs/uploads/", uploadsShape}, {"/blobs/uploads", uploadsShape}, {"/tags/list", tagsShape}} {
		if name, ok := strings.CutSuffix(rest, s.suffix); ok {
			if name == "" {
				return noShape, "", ""
			}
			return s.shape, name, ""
		}
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 || i == len(rest)-1 {
		return noShape, "", ""
	}
	dir, param := rest[:i], rest[i+1:]
	for _, s := range []struct {
		suffix string
		shape  shape
	}{{"/blobs/uploads", sessionShape}, {"/blobs", blobShape}, {"/manifests", manifestShape}, {"/referrers", referrersShape}} {
		if name, ok := strings.CutSuffix(dir, s.suffix); ok && name != "" {
			return s.shape, name, param
		}
	}
	return noShape, "", ""
}

// Matches reports whether path is one of OCI's: /v2/ itself, the token
// and catalog endpoints, or a repository path of any route. Such paths are
// OCI's whatever the method, so no repository name can be taken by
// another protocol sharing /v2.
func (a *API) Matches(path string) bool {
	switch path {
	case "/v2/", "/v2", "/v2/token", "/v2/_catalog":
		return true
	}
	sh, name, _ := parsePath(path)
	return sh != noShape && name != ""
}

// Routes lists the repository endpoints (tests generate requests from it).
func (a *API) Routes() []Route { return a.routes }

// handler is a repository handler: name and the path's last parameter
// ("" when the route has none) come from the router.
type handler func(w http.ResponseWriter, r *http.Request, name, param string) error

// ServeHTTP serves /v2: this transport's own router, so no path under /v2
// that names a repository can be taken by the Library API (the server
// sends /v2 here unless the Library API's router owns the exact path).
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Every response says which API this is; some clients look for it on
	// 200 and 401 alike (notes §1.2).
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	scope, err := a.serve(w, r)
	if err != nil {
		a.writeError(w, r, err, scope)
	}
}

// match finds the route of a repository path; names contain slashes, so
// each route matches the longest name before a known resource suffix
// (notes §6.2). Routes that match the path but not the method make
// UNSUPPORTED.
func (a *API) match(method, path string) (rt *Route, name, param string, pathKnown bool) {
	sh, name, param := parsePath(path)
	if sh == noShape || name == "" {
		return nil, "", "", false
	}
	for i := range a.routes {
		if a.routes[i].shape == sh && a.routes[i].Method == method {
			return &a.routes[i], name, param, true
		}
	}
	return nil, "", "", true
}

// serve routes a request and returns, with any error, the scope a
// challenge for it would name.
func (a *API) serve(w http.ResponseWriter, r *http.Request) (string, error) {
	switch r.URL.Path {
	case "/v2/", "/v2":
		return "", a.base(w, r)
	case "/v2/token":
		return "", a.token(w, r)
	case "/v2/_catalog":
		if r.Method != http.MethodGet {
			return "", unsupported()
		}
		return oci.CatalogScope.String(), a.catalog(w, r)
	}
	rt, name, param, known := a.match(r.Method, r.URL.Path)
	if rt == nil && known {
		return "", unsupported()
	}
	if rt == nil {
		return "", apperr.E(apperr.NotFound, apperr.Repository, "no such endpoint")
	}
	return scopeOf(rt, name), rt.h(w, r, name, param)
}

func unsupported() error {
	return apperr.New(apperr.Invalid, "method not supported here")
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
		return apperr.New(apperr.Unauthenticated, "authentication required")
	}
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}
