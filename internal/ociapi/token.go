package ociapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/bearer"
	"github.com/silo-hpc/silo/internal/oci"
)

// tokenResponse is the token endpoint's JSON (distribution token.md,
// oauth.md; notes §3.4). token and access_token carry the same value so
// both families of clients find it.
type tokenResponse struct {
	Token        string `json:"token"`
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	IssuedAt     string `json:"issued_at"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// maxTokenForm caps the OAuth2 POST form: credentials, a refresh token
// and scopes fit easily; the server does not buffer more for a stranger.
const maxTokenForm = 64 << 10

// token is /v2/token: GET with Basic credentials (token.md) or the OAuth2
// POST form (oauth.md). Bad credentials are 401 even without a scope.
func (a *API) token(w http.ResponseWriter, r *http.Request) error {
	var req bearer.TokenRequest
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		var ok bool
		req.Username, req.Password, ok = r.BasicAuth()
		// Empty credentials ("Basic Og==") are anonymous; Basic ones that
		// do not decode are a wrong password, not an anonymous token.
		if h := r.Header.Get("Authorization"); !ok && len(h) >= 6 && strings.EqualFold(h[:6], "basic ") {
			return apperr.New(apperr.Unauthenticated, "malformed Basic credentials")
		}
		req.Service, req.Scopes = q.Get("service"), oci.ParseScopes(q["scope"]...)
		req.Offline = q.Get("offline_token") == "true"
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxTokenForm)
		if err := r.ParseForm(); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return apperr.New(apperr.TooLarge, "token request form larger than %d bytes", maxTokenForm)
			}
			return apperr.Wrap(apperr.Invalid, err, "invalid form")
		}
		f := r.PostForm
		switch f.Get("grant_type") {
		case "password":
			req.Username, req.Password = f.Get("username"), f.Get("password")
		case "refresh_token":
			if req.RefreshToken = f.Get("refresh_token"); req.RefreshToken == "" {
				return apperr.New(apperr.Unauthenticated, "missing refresh_token")
			}
		default:
			return apperr.New(apperr.Invalid, "unsupported grant_type %q", f.Get("grant_type"))
		}
		req.Service, req.Scopes = f.Get("service"), oci.ParseScopes(f.Get("scope"))
		req.Offline = f.Get("access_type") == "offline"
	default:
		return unsupported()
	}
	res, err := a.tokens.Token(r.Context(), req)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, tokenResponse{
		Token: res.Token, AccessToken: res.Token, ExpiresIn: res.ExpiresIn,
		IssuedAt: res.IssuedAt.UTC().Format(time.RFC3339), RefreshToken: res.RefreshToken, Scope: res.Scope,
	})
	return nil
}
