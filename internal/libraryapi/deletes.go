package libraryapi

import (
	"net/http"
)

// Silo additions (docs/library-api.md, "Delete"): owners and admins
// delete tags, containers and collections; a frozen container keeps its
// tags and is not deleted (bridge.FrozenContent); what another caller may
// not see answers as missing. The Sylabs cloud library has the container
// and collection DELETEs under the same paths.

// deleteContainer is DELETE /v1/containers/{id}.
func (a *API) deleteContainer(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	if err := a.lib.DeleteContainer(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	writeData(w, http.StatusOK, struct{}{})
	return nil
}

// deleteCollection is DELETE /v1/collections/{id}.
func (a *API) deleteCollection(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	if err := a.lib.DeleteCollection(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	writeData(w, http.StatusOK, struct{}{})
	return nil
}

// deleteTag is DELETE /v1/tags/{id}?tag=&arch=: one tag of one
// architecture (no arch: the architecture-less tag) of container id.
func (a *API) deleteTag(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	if err := a.lib.DeleteTag(r.Context(), p, r.PathValue("id"), r.URL.Query().Get("tag"), archParam(r)); err != nil {
		return err
	}
	writeData(w, http.StatusOK, struct{}{})
	return nil
}
