package libraryapi

import (
	"net/http"
)

// getImage implements L8, GET /v1/images/{ref}?arch= (LA §4, §6.5, §10):
// tags resolve per architecture with an architecture-less fallback, and
// sha256.<hex> refs are content lookups in the container.
func (a *API) getImage(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	info, err := a.lib.GetImage(r.Context(), p, r.PathValue("ref"), archParam(r))
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, imageView(info))
	return nil
}

// createImage implements L9, POST /v1/images (LA §6.5): hash, description
// and container are read; the client sends no tag and no arch.
func (a *API) createImage(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	var body struct {
		Hash        string  `json:"hash"`
		Description string  `json:"description"`
		Container   looseID `json:"container"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	info, err := a.lib.CreateImage(r.Context(), p, string(body.Container), body.Hash, body.Description)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, imageView(info))
	return nil
}

// deleteImage implements L10, DELETE /v1/images/{ref}?arch= (LA §5.5):
// 200 with an empty data object.
func (a *API) deleteImage(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	if err := a.lib.DeleteImage(r.Context(), p, r.PathValue("ref"), archParam(r)); err != nil {
		return err
	}
	writeData(w, http.StatusOK, struct{}{})
	return nil
}
