package libraryapi

import (
	"net/http"

	"github.com/silo-hpc/silo/internal/library"
)

// getContainer implements L6, GET /v1/containers/{e}/{c}/{n} (LA §4,
// §6.4). Unlike sregistry, a missing container is 404, so push creates it
// with L7 (LA §11.1).
func (a *API) getContainer(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	info, err := a.lib.GetContainer(r.Context(), p, r.PathValue("entity"), r.PathValue("collection"), r.PathValue("container"))
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, containerView(info))
	return nil
}

// createContainer implements L7, POST /v1/containers (LA §6.4).
func (a *API) createContainer(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	var body struct {
		Collection  looseID `json:"collection"`
		Name        string  `json:"name"`
		Description string  `json:"description"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	info, err := a.lib.CreateContainer(r.Context(), p, string(body.Collection), body.Name, body.Description)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, containerView(info))
	return nil
}

// updateContainer is Silo's PUT /v1/containers/{id} (docs/library-api.md):
// owners and admins freeze and unfreeze a container. "readOnly", the
// client model's name for it, is accepted too.
func (a *API) updateContainer(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	var body struct {
		Frozen      *bool   `json:"frozen"`
		ReadOnly    *bool   `json:"readOnly"`
		Description *string `json:"description"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.Frozen == nil {
		body.Frozen = body.ReadOnly
	}
	u := library.ContainerUpdate{Frozen: body.Frozen, Description: body.Description}
	info, err := a.lib.UpdateContainer(r.Context(), p, r.PathValue("id"), u)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, containerView(info))
	return nil
}
