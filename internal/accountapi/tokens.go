package accountapi

import (
	"net/http"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

type tokenJSON struct {
	ID        string `json:"id"`
	Label     string `json:"label"`
	CreatedAt stamp  `json:"createdAt"`
	LastUsed  stamp  `json:"lastUsedAt"`
	ExpiresAt stamp  `json:"expiresAt"`
	Revoked   bool   `json:"revoked"`
	// Token is the secret, in the answer to a create only.
	Token string `json:"token,omitempty"`
}

func tokenView(t meta.Token) tokenJSON {
	return tokenJSON{ID: t.ID, Label: t.Label, CreatedAt: stamp(t.CreatedAt), LastUsed: stamp(t.LastUsedAt),
		ExpiresAt: stamp(t.ExpiresAt), Revoked: t.Revoked}
}

// listTokens is GET /v1/tokens: the caller's tokens, newest first.
func (a *API) listTokens(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	ts, err := a.auth.Tokens(r.Context(), p)
	if err != nil {
		return err
	}
	out := []tokenJSON{}
	for _, t := range ts {
		out = append(out, tokenView(t))
	}
	writeData(w, http.StatusOK, out)
	return nil
}

// createToken is POST /v1/tokens {"label", "expiresInDays"}: the secret
// is in this answer and nowhere else, ever.
func (a *API) createToken(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	var body struct {
		Label         string `json:"label"`
		ExpiresInDays int    `json:"expiresInDays"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if body.ExpiresInDays < 0 || body.ExpiresInDays > 3660 {
		return apperr.New(apperr.Invalid, "expiresInDays must be between 0 (never) and 3660")
	}
	secret, t, err := a.auth.CreateToken(r.Context(), p, body.Label, time.Duration(body.ExpiresInDays)*24*time.Hour)
	if err != nil {
		return err
	}
	v := tokenView(t)
	v.Token = secret
	writeData(w, http.StatusCreated, v)
	return nil
}

// revokeToken is DELETE /v1/tokens/{id}: effective from the next request.
func (a *API) revokeToken(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	if err := a.auth.Revoke(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	writeData(w, http.StatusOK, struct{}{})
	return nil
}

// changePassword is POST /v1/account/password {"current", "new"}.
func (a *API) changePassword(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	var body struct {
		Current string `json:"current"`
		New     string `json:"new"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if err := a.auth.ChangeOwnPassword(r.Context(), p, body.Current, body.New); err != nil {
		return err
	}
	writeData(w, http.StatusOK, struct{}{})
	return nil
}
