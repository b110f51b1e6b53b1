// Package libraryapi is the Sylabs Library API transport: what
// `singularity push/pull/search/delete/remote` and scs-library-client speak.
// See docs/protocols/library-api.md (cited below as LA §n).
package libraryapi

import (
	"net/http"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/httpx"
)

// writeError is this protocol's one error writer: the JSON envelope the
// client decodes, {"error":{"code":N,"message":"..."}} with N the HTTP
// status (LA §1.2, §12.13).
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := httpx.StatusOf(err)
	if apperr.CodeOf(err) == apperr.Denied && apperr.SubjectOf(err) == apperr.Quota {
		// Sylabs' API answers a push over quota with 507 "Over quota".
		status = http.StatusInsufficientStorage
	}
	httpx.WriteEnvelopeError(w, r, status, err, "library api")
}

// writeJSON writes v with a status.
func writeJSON(w http.ResponseWriter, status int, v any) { httpx.WriteJSON(w, status, v) }

// writeData writes the success envelope {"data": v} (LA §1.2).
func writeData(w http.ResponseWriter, status int, v any) {
	writeJSON(w, status, map[string]any{"data": v})
}
