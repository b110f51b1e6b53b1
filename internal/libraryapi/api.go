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
}

// New returns the Library API transport over the library service; tokens
// (the OCI registry) makes /v1/oci-redirect send pushes over OCI.
func New(authSvc *auth.Service, lib *library.Service, tokens TokenIssuer, publicURL string) *API {
	return &API{auth: authSvc, lib: lib, tokens: tokens, publicURL: publicURL}
}

// Register adds the Library API routes to mux (LA §4 endpoint table).
func (a *API) Register(mux *http.ServeMux) {
	h := func(pattern string, f httpx.Handler) { mux.Handle(pattern, httpx.Adapt(writeError, f)) }
	h("GET /assets/config/config.prod.json", a.discovery)
	h("GET /assets/config.json", a.discovery)
	h("GET /version", a.version)
	h("GET /v1/token-status", a.tokenStatus)
	h("GET /v1/rbac/users/current", a.currentUser)
	h("GET /v1/oci-redirect", a.ociRedirect)

	h("GET /v1/entities/{name}", a.getEntity)
	h("POST /v1/entities", a.createEntity)
	h("GET /v1/collections/{entity}/{collection}", a.getCollection)
	h("POST /v1/collections", a.createCollection)
	h("PUT /v1/collections/{id}", a.updateCollection)
	h("GET /v1/containers/{entity}/{collection}/{container}", a.getContainer)
	h("POST /v1/containers", a.createContainer)
	h("PUT /v1/containers/{id}", a.updateContainer)
	h("GET /v1/images/{ref...}", a.getImage)
	h("POST /v1/images", a.createImage)
	h("DELETE /v1/images/{ref...}", a.deleteImage)
	h("GET /v1/tags/{id}", a.getTags)
	h("POST /v1/tags/{id}", a.setTagV1)
	h("GET /v2/tags/{id}", a.getTags)
	h("POST /v2/tags/{id}", a.setTagV2)
	h("GET /v1/search", a.search)

	h("GET /v1/imagefile/{ref...}", a.download)
	h("POST /v1/imagefile/{id}", a.uploadV1)
	h("POST /v2/imagefile/{id}", a.startUpload)
	h("POST /v2/imagefile/{id}/_multipart", a.startMultipart)
	// One pattern for PUT /v2/imagefile/X/Y: "_upload/{id}" and
	// "{id}/_complete" would overlap in the mux (on _upload/_complete).
	h("PUT /v2/imagefile/{a}/{b}", a.imagefilePut)
	h("PUT /v2/imagefile/_upload/{id}/{part}", a.writePart)

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
