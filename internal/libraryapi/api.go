package libraryapi

import (
	"net/http"
	"strings"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/httpx"
	"github.com/silo-hpc/silo/internal/library"
)

// API serves the Library API.
type API struct {
	auth      *auth.Service
	lib       *library.Service
	tokens    TokenIssuer // nil: /v1/oci-redirect always answers 404
	publicURL string
	routes    []Route
	v2        *http.ServeMux
}

// Route is one Library API endpoint (Go ServeMux pattern syntax).
type Route struct {
	Method, Pattern string
	// Write says the route changes something (tests generate the privacy
	// checks of every write route from this table).
	Write bool
	h     httpx.Handler
}

// New returns the Library API transport over the library service; tokens
// (the OCI token service) makes /v1/oci-redirect send pushes over OCI.
func New(authSvc *auth.Service, lib *library.Service, tokens TokenIssuer, publicURL string) *API {
	a := &API{auth: authSvc, lib: lib, tokens: tokens, publicURL: publicURL}
	// LA §4, the endpoint table.
	a.routes = []Route{
		{"GET", "/assets/config/config.prod.json", false, a.discovery},
		{"GET", "/assets/config.json", false, a.discovery},
		{"GET", "/version", false, a.version},
		{"GET", "/v1/token-status", false, a.tokenStatus},
		{"GET", "/v1/rbac/users/current", false, a.currentUser},
		{"GET", "/v1/oci-redirect", false, a.ociRedirect},
		{"GET", "/v1/entities/{name}", false, a.getEntity},
		{"POST", "/v1/entities", true, a.createEntity},
		{"GET", "/v1/collections/{entity}/{collection}", false, a.getCollection},
		{"POST", "/v1/collections", true, a.createCollection},
		{"PUT", "/v1/collections/{id}", true, a.updateCollection},
		{"GET", "/v1/containers/{entity}/{collection}/{container}", false, a.getContainer},
		{"POST", "/v1/containers", true, a.createContainer},
		{"PUT", "/v1/containers/{id}", true, a.updateContainer},
		{"GET", "/v1/images/{ref...}", false, a.getImage},
		{"POST", "/v1/images", true, a.createImage},
		{"DELETE", "/v1/images/{ref...}", true, a.deleteImage},
		{"GET", "/v1/tags/{id}", false, a.getTags},
		{"POST", "/v1/tags/{id}", true, a.setTagV1},
		{"GET", "/v2/tags/{id}", false, a.getTags},
		{"POST", "/v2/tags/{id}", true, a.setTagV2},
		{"GET", "/v1/search", false, a.search},
		// Silo additions (docs/library-api.md, "SIF metadata").
		{"GET", "/v1/inspect/{ref...}", false, a.inspect},
		{"GET", "/v1/labels", false, a.labels},
		{"GET", "/v1/containers", false, a.listContainers},
		// Silo additions: signature policies (docs/keyserver.md).
		{"GET", "/v1/signature-policies/{id}", false, a.getSignaturePolicy},
		{"PUT", "/v1/signature-policies/{id}", true, a.putSignaturePolicy},
		{"DELETE", "/v1/signature-policies/{id}", true, a.deleteSignaturePolicy},
		{"DELETE", "/v1/containers/{id}", true, a.deleteContainer},
		{"DELETE", "/v1/collections/{id}", true, a.deleteCollection},
		{"DELETE", "/v1/tags/{id}", true, a.deleteTag},
		{"GET", "/v1/imagefile/{ref...}", false, a.download},
		{"POST", "/v1/imagefile/{id}", true, a.uploadV1},
		{"POST", "/v2/imagefile/{id}", true, a.startUpload},
		{"POST", "/v2/imagefile/{id}/_multipart", true, a.startMultipart},
		{"PUT", "/v2/imagefile/{id}/_multipart", true, a.preparePart},
		{"PUT", "/v2/imagefile/{id}/_complete", true, a.completeUpload},
		{"PUT", "/v2/imagefile/{id}/_multipart_complete", true, a.completeMultipart},
		{"PUT", "/v2/imagefile/{id}/_multipart_abort", true, a.abortMultipart},
		// Upload capability URLs (the server hands them out; LA §6.8).
		{"PUT", "/v2/_upload/{id}", true, a.writeUpload},
		{"PUT", "/v2/_upload/{id}/{part}", true, a.writePart},
	}
	a.v2 = http.NewServeMux()
	for _, rt := range a.routes {
		if strings.HasPrefix(rt.Pattern, "/v2/") {
			a.v2.Handle(rt.Method+" "+rt.Pattern, httpx.Adapt(writeError, rt.h))
		}
	}
	a.v2.Handle("/v2/", httpx.Adapt(writeError, noEndpoint))
	return a
}

// noEndpoint answers paths no route has, in the protocol's format, never
// a catch-all 200: clients probe /v1/oci-redirect and fall back on non-200
// (LA §5.1).
func noEndpoint(w http.ResponseWriter, r *http.Request) error {
	return apperr.New(apperr.NotFound, "no such endpoint")
}

// Routes lists the Library API's endpoints.
func (a *API) Routes() []Route { return a.routes }

// Register adds the Library API's routes outside /v2 to mux; /v2 is
// shared with OCI and dispatched by the server through OwnsV2.
func (a *API) Register(mux *http.ServeMux) {
	for _, rt := range a.routes {
		if !strings.HasPrefix(rt.Pattern, "/v2/") {
			mux.Handle(rt.Method+" "+rt.Pattern, httpx.Adapt(writeError, rt.h))
		}
	}
	mux.Handle("/v1/", httpx.Adapt(writeError, noEndpoint))
}

// OwnsV2 reports whether a /v2 path belongs under the Library API's /v2
// prefixes (imagefile/, tags/, _upload/). The server asks it only for
// paths OCI's grammar does not claim (ociapi.API.Matches): OCI owns every
// repository path, so an OCI repository may be called imagefile or tags.
func (a *API) OwnsV2(path string) bool {
	rest := strings.TrimPrefix(path, "/v2/")
	for _, prefix := range []string{"imagefile/", "tags/", "_upload/"} {
		if strings.HasPrefix(rest, prefix) {
			return true
		}
	}
	return false
}

// ServeV2 serves a /v2 path OwnsV2 reported.
func (a *API) ServeV2(w http.ResponseWriter, r *http.Request) { a.v2.ServeHTTP(w, r) }

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

// archParam reads ?arch=, accepting the key "arch=amd64" that Singularity
// 3.7 sent by escaping the "=" (LA §11.2).
func archParam(r *http.Request) string {
	q := r.URL.Query()
	if v := q.Get("arch"); v != "" {
		return v
	}
	for k := range q {
		if v, ok := strings.CutPrefix(k, "arch="); ok {
			return v
		}
	}
	return ""
}

// baseURL is the absolute URL upload URLs are built on.
func (a *API) baseURL(r *http.Request) string { return httpx.BaseURL(r, a.publicURL) }
