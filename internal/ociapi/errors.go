package ociapi

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/httpx"
	"github.com/silo-hpc/silo/internal/oci"
)

// ociError is one entry of the spec's error body ("Error Codes").
type ociError struct {
	Code    oci.ErrorCode `json:"code"`
	Message string        `json:"message"`
	Detail  any           `json:"detail,omitempty"`
}

// writeError is this transport's one mapping from apperr to the wire:
// status from the apperr class, OCI code from the detail the service
// attached (or the class's default), and a Bearer challenge on 401.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	class := apperr.CodeOf(err)
	code := oci.CodeOf(err)
	status, fallback := http.StatusInternalServerError, oci.ErrorCode("UNKNOWN")
	switch class {
	case apperr.NotFound:
		status, fallback = http.StatusNotFound, oci.CodeNameUnknown
	case apperr.Invalid:
		status, fallback = http.StatusBadRequest, oci.CodeUnsupported
	case apperr.Conflict:
		status, fallback = http.StatusConflict, oci.CodeDenied
		// A chunk that does not continue the session (spec end-5, end-6).
		if code == oci.CodeBlobUploadInvalid {
			status = http.StatusRequestedRangeNotSatisfiable
		}
	case apperr.Unauthenticated:
		status, fallback = http.StatusUnauthorized, oci.CodeUnauthorized
	case apperr.Denied:
		status, fallback = http.StatusForbidden, oci.CodeDenied
	case apperr.TooLarge:
		status, fallback = http.StatusRequestEntityTooLarge, oci.CodeSizeInvalid
	case apperr.Unavailable:
		status, fallback = http.StatusServiceUnavailable, oci.CodeTooManyRequests
	}
	if code == "" {
		code = fallback
	}
	if status >= 500 {
		httpx.Logger(r.Context()).Error("oci api error", "err", err, "method", r.Method, "path", r.URL.Path)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", a.challenge(r, oci.ChallengeOf(err)))
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, map[string][]ociError{"errors": {{Code: code, Message: apperr.MessageOf(err)}}})
}

// challenge formats a Bearer challenge as distribution does (notes §3.1).
func (a *API) challenge(r *http.Request, ch *oci.Challenge) string {
	realm, service := a.realm(r)
	h := fmt.Sprintf("Bearer realm=%q,service=%q", realm, service)
	if ch != nil && ch.Scope != "" {
		h += fmt.Sprintf(",scope=%q", ch.Scope)
	}
	if ch != nil && ch.InsufficientScope {
		h += `,error="insufficient_scope"`
	}
	return h
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
