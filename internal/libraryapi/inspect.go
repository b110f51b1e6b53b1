package libraryapi

import (
	"net/http"

	"github.com/silo-hpc/silo/internal/library"
)

// inspect is GET /v1/inspect/{ref}?arch= (a Silo addition, documented in
// docs/library-api.md): what the server read from an image's SIF.
func (a *API) inspect(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	in, err := a.lib.InspectImage(r.Context(), p, r.PathValue("ref"), archParam(r))
	if err != nil {
		return err
	}
	labels := in.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	writeData(w, http.StatusOK, map[string]any{"image": imageView(in.ImageInfo), "inspection": in.Inspection, "labels": labels})
	return nil
}

// labelJSON is one row of GET /v1/labels.
type labelJSON struct {
	Key         string `json:"key"`
	Value       string `json:"value"`
	Container   string `json:"container"` // entity/collection/container
	ContainerID string `json:"containerID"`
}

// labels is GET /v1/labels?key=&value=&limit=&page= (a Silo addition):
// labels with the containers whose images carry them, filtered by key
// and value, leaving out what the caller may not read.
func (a *API) labels(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	lq := library.LabelQuery{Key: q.Get("key"), Value: q.Get("value")}
	if lq.Limit, err = positiveParam(r, "limit"); err != nil {
		return err
	}
	page, err := positiveParam(r, "page")
	if err != nil {
		return err
	}
	lq.Page = page
	rows, err := a.lib.ListLabels(r.Context(), p, lq)
	if err != nil {
		return err
	}
	out := make([]labelJSON, 0, len(rows))
	for _, row := range rows {
		c := row.Container
		out = append(out, labelJSON{Key: row.Key, Value: row.Value,
			Container: c.Entity.Name + "/" + c.Collection.Name + "/" + c.Container.Name, ContainerID: c.Container.ID})
	}
	writeData(w, http.StatusOK, out)
	return nil
}
