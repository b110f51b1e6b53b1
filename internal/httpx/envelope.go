package httpx

import (
	"encoding/json"
	"net/http"

	"github.com/silo-hpc/silo/internal/apperr"
)

// Status is the HTTP status of an apperr code for the Library API and the
// JSON APIs that share its envelope (account, quota, keyserver) and for
// the web UI's pages. OCI and sregistry map codes in their own ways
// (ociapi/errors.go, sregistryapi/errors.go).
func Status(code apperr.Code) int {
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

// StatusOf is Status of err's code, except that a range ServeContent
// could not satisfy (apperr.Invalid about apperr.Range) is 416.
func StatusOf(err error) int {
	code := apperr.CodeOf(err)
	if code == apperr.Invalid && apperr.SubjectOf(err) == apperr.Range {
		return http.StatusRequestedRangeNotSatisfiable
	}
	return Status(code)
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteEnvelopeError writes err with status in the Library API's error
// envelope, {"error":{"code":N,"message":"..."}} with N the status
// (docs/protocols/library-api.md §1.2, §12.13; scs-key-client decodes the
// same, §8), with a Bearer challenge on 401. Server errors are logged,
// api naming the API.
func WriteEnvelopeError(w http.ResponseWriter, r *http.Request, status int, err error, api string) {
	if status >= 500 {
		Logger(r.Context()).Error(api+" error", "err", err, "path", r.URL.Path)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="silo"`)
	}
	WriteJSON(w, status, map[string]any{"error": map[string]any{"code": status, "message": apperr.MessageOf(err)}})
}
