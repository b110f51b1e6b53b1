package libraryapi

import (
	"net/http"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/httpx"
	"github.com/silo-hpc/silo/internal/version"
)

// discovery serves the service document every library command fetches
// first. Values are objects with "uri" and no trailing slash (LA §2.2);
// keystoreAPI is mandatory for pulls.
func (a *API) discovery(w http.ResponseWriter, r *http.Request) error {
	base := httpx.BaseURL(r, a.publicURL)
	svc := map[string]string{"uri": base}
	writeJSON(w, http.StatusOK, map[string]any{
		"libraryAPI":  svc,
		"keystoreAPI": svc,
		"tokenAPI":    svc,
	})
	return nil
}

// version answers `remote status` and the clients' feature checks (LA §6.9).
func (a *API) version(w http.ResponseWriter, r *http.Request) error {
	writeData(w, http.StatusOK, map[string]string{"version": version.Version, "apiVersion": version.LibraryAPIVersion})
	return nil
}

// tokenStatus is 200 for a valid token and 401 otherwise (LA §3.1).
func (a *API) tokenStatus(w http.ResponseWriter, r *http.Request) error {
	tok, ok := httpx.BearerToken(r)
	if !ok {
		return apperr.New(apperr.Unauthenticated, "no token")
	}
	p, err := a.auth.CheckToken(r.Context(), tok)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, map[string]string{"status": "valid", "username": p.Name})
	return nil
}

// currentUser serves `remote status` and `remote get-login-password`
// (LA §3.3): unwrapped, 401 without a valid token. There is no separate
// OCI password; the API token is one, so "secret" stays empty.
func (a *API) currentUser(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	u, err := a.lib.CurrentUser(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"username": u.Name, "email": u.Email, "realname": "",
		"oidc_user_meta": map[string]string{"secret": ""},
	})
	return nil
}
