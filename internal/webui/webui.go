// Package webui is Silo's web interface: server-rendered pages
// (html/template, templates and a stylesheet embedded in the binary, no
// JavaScript), the token page `singularity remote login` sends users to
// (/auth/tokens), and the API documentation at /api. It is a transport:
// each page reads through the services (library, auth, settings, pgpkeys) and
// each form calls one service method, which decides; privacy is the
// services', so a private thing and a missing one look the same here
// too. docs/web-ui.md describes the pages and their security.
package webui

import (
	"context"
	"embed"
	"io/fs"
	"net/http"

	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/library"
	"github.com/silo-hpc/silo/internal/pgpkeys"
	"github.com/silo-hpc/silo/internal/settings"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// UI serves the web interface.
type UI struct {
	auth      *auth.Service
	lib       *library.Service
	settings  *settings.Service
	keys      *pgpkeys.Service // the keyserver's keys: the account page lists and edits the user's
	publicURL string
	pages     map[string]pageTemplate
	mux       *http.ServeMux
	origins   *http.CrossOriginProtection
	// sreg, when set, renders the ~/.sregistry secrets file for a new
	// token (docs/sregistry.md), which the token page shows to paste, and
	// rotates a collection's image URLs from its page.
	sreg SRegistry
}

// SRegistry is what the pages need of the sregistry service: sregistry-cli's
// secrets file for one of p's API tokens, and the rotation of a
// collection's image URLs (docs/sregistry.md, "Downloads").
type SRegistry interface {
	ClientSecrets(ctx context.Context, p auth.Principal, tokenID, baseURL string) ([]byte, error)
	RotateDownloadsAs(ctx context.Context, p auth.Principal, entity, collection string) error
}

// WithSRegistry makes the token page show sregistry-cli's secrets file
// for each new token, and collection pages offer to rotate image URLs.
func (u *UI) WithSRegistry(s SRegistry) *UI {
	u.sreg = s
	return u
}

// New returns the web interface over the services. publicURL is the
// server's external base URL ("" derives it from requests).
func New(a *auth.Service, lib *library.Service, st *settings.Service, keys *pgpkeys.Service, publicURL string) *UI {
	u := &UI{auth: a, lib: lib, settings: st, keys: keys, publicURL: publicURL, mux: http.NewServeMux(),
		origins: http.NewCrossOriginProtection()}
	u.pages = parsePages()
	u.routes()
	return u
}

func (u *UI) routes() {
	static, _ := fs.Sub(staticFS, "static")
	u.mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	u.handle("GET /{$}", u.home)
	u.handle("GET /search", u.search)
	u.authRoutes()
	u.keyRoutes()
	u.libraryRoutes()
	u.adminRoutes()
	u.handle("GET /api", u.apiPage)
	u.handle("GET /api/{$}", u.apiPage)
	u.mux.HandleFunc("GET /api/openapi.json", u.openAPI)
	u.mux.Handle("/", u.page(u.notFound, 0))
}

// Register mounts the interface on the server's mux: "/" (every path no
// other transport has: the pages, /auth/..., /static/...) and exactly
// /api, /api/ and /api/openapi.json (the rest of /api/... is the
// sregistry API's).
func (u *UI) Register(mux *http.ServeMux) {
	mux.Handle("/", u.mux)
	mux.Handle("GET /api", u.mux)
	mux.Handle("GET /api/{$}", u.mux)
	mux.Handle("GET /api/openapi.json", u.mux)
}

// ServeHTTP serves the interface's own routes (tests mount it alone).
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) { u.mux.ServeHTTP(w, r) }

// cacheStatic lets browsers keep the embedded assets for a day: they
// change only with the binary.
func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// notFound answers paths no page has.
func (u *UI) notFound(w http.ResponseWriter, r *http.Request, c *call) error {
	return errNoPage
}
