// Package libraryapi is the Sylabs Library API transport: what
// `singularity push/pull/search/delete/remote` and scs-library-client speak.
// See docs/protocols/library-api.md (cited below as LA §n).
package libraryapi

import (
	"encoding/json"
	"net/http"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/httpx"
)

// statusOf maps apperr codes to HTTP statuses for this protocol.
func statusOf(code apperr.Code) int {
	switch code {
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.Invalid:
		return http.StatusBadRequest
	case apperr.Conflict:
		return http.StatusConflict
	case apperr.Unauthenticated:
		return http.StatusUnauthorized
	case apperr.Denied:
		return http.StatusForbidden
	case apperr.TooLarge:
		return http.StatusRequestEntityTooLarge
	case apperr.Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// writeError is this protocol's one error writer: the JSON envelope the
// client decodes, {"error":{"code":N,"message":"..."}} with N the HTTP
// status (LA §1.2, §12.13).
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := apperr.CodeOf(err)
	status := statusOf(code)
	if code == apperr.Denied && apperr.SubjectOf(err) == apperr.Quota {
		// Sylabs' API answers a push over quota with 507 "Over quota".
		status = http.StatusInsufficientStorage
	}
	if status >= 500 {
		httpx.Logger(r.Context()).Error("library api error", "err", err, "path", r.URL.Path)
	}
	msg := apperr.MessageOf(err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="silo"`)
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": status, "message": msg}})
}

// writeJSON writes v with a status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeData writes the success envelope {"data": v} (LA §1.2).
func writeData(w http.ResponseWriter, status int, v any) {
	writeJSON(w, status, map[string]any{"data": v})
}
