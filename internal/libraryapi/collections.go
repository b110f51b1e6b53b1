package libraryapi

import (
	"encoding/json"
	"net/http"

	"github.com/silo-hpc/silo/internal/library"
)

// getCollection implements L4, GET /v1/collections/{entity}/{collection}
// (LA §4, §6.3). Missing or invisible is 404, so a push goes on to L5.
func (a *API) getCollection(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	info, err := a.lib.GetCollection(r.Context(), p, r.PathValue("entity"), r.PathValue("collection"))
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, collectionView(info.Entity, info.Collection, info.Containers))
	return nil
}

// createCollection implements L5, POST /v1/collections (LA §6.3; seed
// 003's curl API: {"entity": <id>, "name": ..., "private": bool}).
// "private" is optional and defaults to the server's default_private. The
// Sylabs client always encodes its whole model, "private": false included,
// although its user chose nothing; such bodies (recognised by the
// BaseModel's "createdAt") get the default too.
func (a *API) createCollection(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	var body struct {
		Entity      looseID         `json:"entity"`
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Private     *bool           `json:"private"`
		CreatedAt   json.RawMessage `json:"createdAt"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.CreatedAt != nil {
		body.Private = nil
	}
	info, err := a.lib.CreateCollection(r.Context(), p, string(body.Entity), body.Name, body.Description, body.Private)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, collectionView(info.Entity, info.Collection, info.Containers))
	return nil
}

// updateCollection is Silo's PUT /v1/collections/{id} (docs/library-api.md):
// owners and admins make a collection private or public.
func (a *API) updateCollection(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	var body struct {
		Private     *bool   `json:"private"`
		Description *string `json:"description"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	u := library.CollectionUpdate{Private: body.Private, Description: body.Description}
	info, err := a.lib.UpdateCollection(r.Context(), p, r.PathValue("id"), u)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, collectionView(info.Entity, info.Collection, info.Containers))
	return nil
}
