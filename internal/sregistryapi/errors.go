package sregistryapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/httpx"
)

// statusOf maps apperr codes to this protocol's statuses: the Library
// API's (httpx.Status), except that authentication problems are 403,
// never 401: sregistry-cli exits on a 401 instead of retrying with its
// signature (SR §3.1, §7).
func statusOf(err error) int {
	if apperr.CodeOf(err) == apperr.Unauthenticated {
		return http.StatusForbidden
	}
	return httpx.StatusOf(err)
}

// methodError is a path served with another method.
type methodError struct{ method string }

func (m methodError) Error() string { return fmt.Sprintf("Method %q not allowed.", m.method) }

func errMethod(method string) error { return methodError{method} }

// errNoEndpoint answers paths no route has.
var errNoEndpoint = apperr.New(apperr.NotFound, "Not found.")

// writeError is this protocol's one error writer: sregistry's (Django
// REST framework's) {"detail": "..."} with a real status (SR §5.1, §6).
// Private and missing things reach it with the same error, so they get
// the same answer.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	msg := apperr.MessageOf(err)
	var me methodError
	if errors.As(err, &me) {
		status, msg = http.StatusMethodNotAllowed, me.Error()
	}
	if status >= 500 {
		httpx.Logger(r.Context()).Error("sregistry api error", "err", err, "path", r.URL.Path)
	}
	writeJSON(w, status, map[string]string{"detail": msg})
}

// writeJSON writes v with a status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
