package clienttest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Library configures NewLibrary.
type Library struct {
	Token    string // the one valid bearer token
	Username string // what /v1/rbac/users/current reports
	Email    string
	Version  string // what /version reports for every service
	// Services lists the discovery keys to publish, each pointing at the
	// stub itself; nil means libraryAPI, keystoreAPI and tokenAPI.
	Services []string
}

// NewLibrary serves the Library API calls `remote login` and `remote
// status` make (docs/protocols/library-api.md §2, §3): the discovery document, /version,
// /v1/token-status (200 for the valid token, 401 otherwise, as Silo
// answers) and /v1/rbac/users/current.
func NewLibrary(t testing.TB, cfg Library, opts ...Option) *Server {
	if cfg.Services == nil {
		cfg.Services = []string{"libraryAPI", "keystoreAPI", "tokenAPI"}
	}
	if cfg.Version == "" {
		cfg.Version = "clienttest"
	}
	authorized := func(r *http.Request) bool {
		tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		return found && tok != "" && tok == cfg.Token
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /assets/config/config.prod.json", func(w http.ResponseWriter, r *http.Request) {
		doc := map[string]any{}
		for _, k := range cfg.Services {
			doc[k] = map[string]string{"uri": baseURL(r)}
		}
		writeJSON(w, http.StatusOK, doc)
	})
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]string{"version": cfg.Version, "apiVersion": "2.0.0-alpha.2"}})
	})
	mux.HandleFunc("GET /v1/token-status", func(w http.ResponseWriter, r *http.Request) {
		if !authorized(r) {
			libraryError(w, http.StatusUnauthorized, "Invalid Token")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "welcome"})
	})
	mux.HandleFunc("GET /v1/rbac/users/current", func(w http.ResponseWriter, r *http.Request) {
		if !authorized(r) {
			libraryError(w, http.StatusUnauthorized, "Invalid Token")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"username": cfg.Username, "email": cfg.Email, "realname": cfg.Username})
	})
	return start(t, mux, opts)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// libraryError writes the {"error":{code,message}} envelope (docs/protocols/library-api.md §1.2).
func libraryError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": status, "message": msg}})
}

// Token returns a valid-looking Library token of n characters.
func Token(n int) string {
	return strings.Repeat("t0K3n", n/5+1)[:n]
}
