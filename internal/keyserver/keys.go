package keyserver

import (
	"net/http"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

// keyJSON is a held key in the JSON API.
type keyJSON struct {
	Fingerprint string     `json:"fingerprint"`
	Owner       string     `json:"owner"`
	UserIDs     []string   `json:"userIDs"`
	Algorithm   int        `json:"algorithm"`
	Bits        int        `json:"bits"`
	CreatedAt   time.Time  `json:"createdAt"`
	ExpiresAt   *time.Time `json:"expiresAt"`
	Revoked     bool       `json:"revoked"`
	AddedAt     time.Time  `json:"addedAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
}

func keyOf(k meta.PGPKey) keyJSON {
	out := keyJSON{Fingerprint: k.Fingerprint, Owner: k.OwnerName, UserIDs: k.UserIDs, Algorithm: k.Algorithm,
		Bits: k.Bits, CreatedAt: k.CreatedAt, Revoked: k.Revoked, AddedAt: k.AddedAt, UpdatedAt: k.UpdatedAt}
	if !k.ExpiresAt.IsZero() {
		out.ExpiresAt = &k.ExpiresAt
	}
	return out
}

// list answers GET /v1/keys?owner=NAME: a user's keys (keys are public);
// without owner, the caller's own.
func (a *API) list(w http.ResponseWriter, r *http.Request) error {
	owner := r.URL.Query().Get("owner")
	if owner == "" {
		p, err := a.principal(r)
		if err != nil {
			return err
		}
		if p.Anonymous() {
			return apperr.New(apperr.Unauthenticated, "authentication required: log in with a token, or name an owner")
		}
		owner = p.Name
	}
	keys, err := a.keys.List(r.Context(), owner)
	if err != nil {
		return err
	}
	out := make([]keyJSON, len(keys))
	for i, k := range keys {
		out[i] = keyOf(k)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
	return nil
}

// remove answers DELETE /v1/keys/{fingerprint}: the key's owner or an
// admin removes it.
func (a *API) remove(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	if err := a.keys.Remove(r.Context(), p, r.PathValue("fingerprint")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
