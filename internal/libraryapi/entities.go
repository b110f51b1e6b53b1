package libraryapi

import (
	"net/http"
)

// getEntity implements L2, GET /v1/entities/{name} (LA §4, §6.2). A user's
// own entity is created on first use; a missing one is 404, which push
// answers with L3.
func (a *API) getEntity(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	info, err := a.lib.GetEntity(r.Context(), p, r.PathValue("name"))
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, entityView(info.Entity, info.Collections))
	return nil
}

// createEntity implements L3, POST /v1/entities (LA §6.2): only name and
// description are read; the client's other fields are zero values.
func (a *API) createEntity(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	var body struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	e, err := a.lib.CreateEntity(r.Context(), p, body.Name, body.Description)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, entityView(e, nil))
	return nil
}
