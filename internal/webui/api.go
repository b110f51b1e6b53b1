package webui

import (
	"net/http"

	"github.com/silo-hpc/silo/internal/apidoc"
)

// apiPage is /api: the OpenAPI document as a page (each operation a
// <details> element: no script needed to browse it).
func (u *UI) apiPage(w http.ResponseWriter, r *http.Request, c *call) error {
	doc, err := apidoc.Load()
	if err != nil {
		return err
	}
	return u.render(w, r, c, http.StatusOK, "api", doc)
}

// openAPI is /api/openapi.json, for tools (any origin may read it).
func (u *UI) openAPI(w http.ResponseWriter, r *http.Request) {
	b, err := apidoc.JSON()
	if err != nil {
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(b)
}
