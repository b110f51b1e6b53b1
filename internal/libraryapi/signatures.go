package libraryapi

import (
	"net/http"
	"time"

	"github.com/silo-hpc/silo/internal/library"
)

// policyJSON is a collection's signature policy (a Silo addition,
// docs/keyserver.md "Signature policies").
type policyJSON struct {
	Collection   string            `json:"collection"` // entity/collection
	CollectionID string            `json:"collectionID"`
	Fingerprints []string          `json:"fingerprints"` // empty: no policy
	Keys         []policyKeyJSON   `json:"keys"`
	UpdatedBy    string            `json:"updatedBy,omitempty"`
	UpdatedAt    *time.Time        `json:"updatedAt,omitempty"`
	Images       []policyImageJSON `json:"images"`
	// Failing counts the stored images that would be refused if pushed
	// now (they stay: a policy applies to pushes).
	Failing int `json:"failing"`
}

type policyKeyJSON struct {
	Fingerprint string `json:"fingerprint"`
	Held        bool   `json:"held"`
	Owner       string `json:"owner,omitempty"`
}

type policyImageJSON struct {
	Container string   `json:"container"`
	ID        string   `json:"id"`
	Hash      string   `json:"hash"`
	Arch      string   `json:"arch"`
	Tags      []string `json:"tags"`
	Passes    bool     `json:"passes"`
	Refusal   string   `json:"refusal,omitempty"`
}

func policyView(v library.PolicyView) policyJSON {
	out := policyJSON{Collection: v.Entity.Name + "/" + v.Collection.Name, CollectionID: v.Collection.ID,
		Fingerprints: v.Fingerprints, Keys: []policyKeyJSON{}, UpdatedBy: v.UpdatedBy, Images: []policyImageJSON{}}
	if out.Fingerprints == nil {
		out.Fingerprints = []string{}
	}
	if !v.UpdatedAt.IsZero() {
		out.UpdatedAt = &v.UpdatedAt
	}
	for _, k := range v.Keys {
		out.Keys = append(out.Keys, policyKeyJSON{k.Fingerprint, k.Held, k.Owner})
	}
	for _, img := range v.Images {
		tags := img.Tags
		if tags == nil {
			tags = []string{}
		}
		out.Images = append(out.Images, policyImageJSON{Container: img.Container, ID: img.Image.ID,
			Hash: library.HashOf(img.Image.Digest), Arch: img.Image.Arch, Tags: tags,
			Passes: img.Refusal == "", Refusal: img.Refusal})
		if img.Refusal != "" {
			out.Failing++
		}
	}
	return out
}

// getSignaturePolicy is GET /v1/signature-policies/{id}: the
// policy and how the collection's stored images fare against it.
func (a *API) getSignaturePolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	v, err := a.lib.SignaturePolicy(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, policyView(v))
	return nil
}

// putSignaturePolicy is PUT /v1/signature-policies/{id} with
// {"fingerprints":[...]}: the owner or an admin requires pushes to carry
// a valid signature by one of them ([] turns the policy off).
func (a *API) putSignaturePolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	var body struct {
		Fingerprints []string `json:"fingerprints"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	v, err := a.lib.SetSignaturePolicy(r.Context(), p, r.PathValue("id"), body.Fingerprints)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, policyView(v))
	return nil
}

// deleteSignaturePolicy is DELETE /v1/signature-policies/{id}:
// the policy is turned off.
func (a *API) deleteSignaturePolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	v, err := a.lib.SetSignaturePolicy(r.Context(), p, r.PathValue("id"), nil)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, policyView(v))
	return nil
}
