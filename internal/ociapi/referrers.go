package ociapi

import (
	"encoding/json"
	"net/http"

	"github.com/silo-hpc/silo/internal/oci"
)

// referrers is end-12a/end-12b (spec "Listing Referrers"): always an image
// index, never 404; OCI-Filters-Applied when artifactType filtered it.
func (a *API) referrers(w http.ResponseWriter, r *http.Request, name, d string) error {
	c, err := a.caller(r)
	if err != nil {
		return err
	}
	artifactType := r.URL.Query().Get("artifactType")
	list, err := a.svc.Referrers(r.Context(), c, name, d, artifactType)
	if err != nil {
		return err
	}
	if artifactType != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	w.Header().Set("Content-Type", oci.MediaTypeImageIndex)
	w.WriteHeader(http.StatusOK)
	writeIndex(w, list)
	return nil
}

// writeIndex encodes the referrers list as an image index; the
// conformance suite rejects one without schemaVersion and mediaType.
func writeIndex(w http.ResponseWriter, list []oci.Descriptor) {
	_ = json.NewEncoder(w).Encode(struct {
		SchemaVersion int              `json:"schemaVersion"`
		MediaType     string           `json:"mediaType"`
		Manifests     []oci.Descriptor `json:"manifests"`
	}{2, oci.MediaTypeImageIndex, list})
}
