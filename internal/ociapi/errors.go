package ociapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/httpx"
	"github.com/silo-hpc/silo/internal/oci"
)

// ociError is one entry of the spec's error body ("Error Codes").
type ociError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// answer is how one (class, subject) pair goes on the wire. A fixed
// message replaces the service's: for what is missing or invisible, the
// answer must not depend on why (privacy), so it is the table's.
type answer struct {
	status  int
	code    string
	message string // "" keeps the service's message
}

type key struct {
	class   apperr.Code
	subject apperr.Subject
}

// table is this transport's one mapping from the error model to OCI
// errors (spec "Error Codes"; notes §1.9). A pair not listed takes its
// class's entry (subject "").
var table = map[key]answer{
	{apperr.NotFound, ""}:                  {http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry"},
	{apperr.NotFound, apperr.Repository}:   {http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry"},
	{apperr.NotFound, apperr.Blob}:         {http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to registry"},
	{apperr.NotFound, apperr.Manifest}:     {http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown to registry"},
	{apperr.NotFound, apperr.Upload}:       {http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry"},
	{apperr.Invalid, ""}:                   {http.StatusBadRequest, "UNSUPPORTED", ""},
	{apperr.Invalid, apperr.Name}:          {http.StatusBadRequest, "NAME_INVALID", ""},
	{apperr.Invalid, apperr.Digest}:        {http.StatusBadRequest, "DIGEST_INVALID", ""},
	{apperr.Invalid, apperr.Manifest}:      {http.StatusBadRequest, "MANIFEST_INVALID", ""},
	{apperr.Invalid, apperr.Blob}:          {http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN", ""},
	{apperr.Invalid, apperr.Upload}:        {http.StatusBadRequest, "BLOB_UPLOAD_INVALID", ""},
	{apperr.Invalid, apperr.Size}:          {http.StatusBadRequest, "SIZE_INVALID", ""},
	{apperr.Invalid, apperr.Range}:         {http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID", ""},
	{apperr.Conflict, ""}:                  {http.StatusConflict, "DENIED", ""},
	{apperr.Conflict, apperr.Range}:        {http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID", ""},
	{apperr.Conflict, apperr.Upload}:       {http.StatusConflict, "BLOB_UPLOAD_INVALID", ""},
	{apperr.Unauthenticated, ""}:           {http.StatusUnauthorized, "UNAUTHORIZED", ""},
	{apperr.Unauthenticated, apperr.Scope}: {http.StatusUnauthorized, "UNAUTHORIZED", "insufficient scope"},
	{apperr.Denied, ""}:                    {http.StatusForbidden, "DENIED", ""},
	{apperr.TooLarge, ""}:                  {http.StatusRequestEntityTooLarge, "SIZE_INVALID", ""},
	{apperr.Unavailable, ""}:               {http.StatusServiceUnavailable, "TOOMANYREQUESTS", ""},
	{apperr.Internal, ""}:                  {http.StatusInternalServerError, "UNKNOWN", "internal server error"},
}

// lookup finds the answer for err.
func lookup(err error) answer {
	class, subject := apperr.CodeOf(err), apperr.SubjectOf(err)
	if a, ok := table[key{class, subject}]; ok {
		return a
	}
	if a, ok := table[key{class, ""}]; ok {
		return a
	}
	return table[key{apperr.Internal, ""}]
}

// writeError writes err as the spec's error body: status, code and
// message from the table, and on a 401 the Bearer challenge naming scope
// (what the request needs; "" for none).
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error, scope string) {
	ans := lookup(err)
	if ans.status >= 500 && ans.status != http.StatusServiceUnavailable {
		httpx.Logger(r.Context()).Error("oci api error", "err", err, "method", r.Method, "path", r.URL.Path)
	}
	msg := ans.message
	if msg == "" {
		msg = apperr.MessageOf(err)
	}
	switch ans.status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", a.challenge(r, scope, apperr.SubjectOf(err) == apperr.Scope))
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "5")
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(ans.status)
		return
	}
	writeJSON(w, ans.status, map[string][]ociError{"errors": {{Code: ans.code, Message: msg}}})
}

// challenge formats a Bearer challenge as distribution does (notes §3.1).
// The scope names what the request's route needs of its repository, so it
// is the same whether the repository exists or not, and a client that
// asks the token service for exactly that scope gets a token that lets
// its retry through.
func (a *API) challenge(r *http.Request, scope string, insufficient bool) string {
	realm, service := a.realm(r)
	h := fmt.Sprintf("Bearer realm=%q,service=%q", realm, service)
	if scope != "" {
		h += fmt.Sprintf(",scope=%q", scope)
	}
	if insufficient {
		h += `,error="insufficient_scope"`
	}
	return h
}

// scopeOf is the scope a route needs on repository name.
func scopeOf(rt *Route, name string) string {
	if rt == nil || !oci.ValidName(name) {
		return ""
	}
	return "repository:" + name + ":" + strings.Join(rt.Actions, ",")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
