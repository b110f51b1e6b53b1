package ociapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/registry"
)

func uploadURL(name, id string) string { return "/v2/" + name + "/blobs/uploads/" + id }
func blobURL(name, d string) string    { return "/v2/" + name + "/blobs/" + d }

// writeUpload answers with a session's Location and Range. The Location
// stays the same URL for the whole session, so a client that keeps using
// the POST's Location still reaches it (notes §2.1).
func writeUpload(w http.ResponseWriter, name string, u registry.Upload, status int) {
	h := w.Header()
	h.Set("Location", uploadURL(name, u.ID))
	h.Set("Docker-Upload-UUID", u.ID)
	end := u.Offset - 1
	if end < 0 {
		end = 0 // what distribution sends for an empty session
	}
	h.Set("Range", "0-"+strconv.FormatInt(end, 10))
	if status != http.StatusNoContent {
		h.Set("Content-Length", "0")
	}
	w.WriteHeader(status)
}

func writeBlobCreated(w http.ResponseWriter, name, d string) {
	w.Header().Set("Location", blobURL(name, d))
	w.Header().Set("Docker-Content-Digest", d)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

// chunk reads a PATCH or PUT body with its Content-Range, "<start>-<end>"
// without the "bytes " prefix (spec "Pushing a blob in chunks"), and
// Content-Length. A range the body does not fill exactly is 416 before a
// byte is read.
func chunk(r *http.Request) (registry.Chunk, error) {
	c := registry.Chunk{Start: -1, Length: r.ContentLength, Body: r.Body}
	v := strings.TrimPrefix(r.Header.Get("Content-Range"), "bytes ")
	if v == "" {
		return c, nil
	}
	a, b, ok := strings.Cut(v, "-")
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || start < 0 || end < start-1 {
		return c, apperr.E(apperr.Invalid, apperr.Range, "invalid Content-Range %q", v)
	}
	n := end - start + 1
	if n < 0 { // 0-9223372036854775807 overflows
		return c, apperr.E(apperr.Invalid, apperr.Range, "invalid Content-Range %q", v)
	}
	if r.ContentLength >= 0 && r.ContentLength != n {
		return c, apperr.E(apperr.Invalid, apperr.Range, "Content-Range %q covers %d bytes, the body has %d", v, n, r.ContentLength)
	}
	c.Start, c.Length = start, n
	return c, nil
}

// startUpload is POST /blobs/uploads/: a new session (end-4a, 202), a
// whole blob with ?digest= (end-4b, 201), or a mount (end-11: 201 when
// mounted, else 202 with a session).
func (a *API) startUpload(w http.ResponseWriter, r *http.Request, name, _ string) error {
	c, err := a.caller(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	req := registry.StartUpload{Digest: q.Get("digest"), Algorithm: q.Get("digest-algorithm"),
		Mount: q.Get("mount"), From: q.Get("from"), Body: registry.Chunk{Start: -1, Length: r.ContentLength, Body: r.Body}}
	res, err := a.svc.StartUpload(r.Context(), c, name, req)
	if err != nil {
		return err
	}
	if res.Blob != "" {
		writeBlobCreated(w, name, res.Blob.String())
		return nil
	}
	writeUpload(w, name, res.Upload, http.StatusAccepted)
	return nil
}

// patchUpload is end-5: a chunk with Content-Range, or a whole streamed
// body without one. Out of order is 416.
func (a *API) patchUpload(w http.ResponseWriter, r *http.Request, name, id string) error {
	c, err := a.caller(r)
	if err != nil {
		return err
	}
	ch, err := chunk(r)
	if err != nil {
		return err
	}
	u, err := a.svc.AppendUpload(r.Context(), c, name, id, ch)
	if err != nil {
		return err
	}
	writeUpload(w, name, u, http.StatusAccepted)
	return nil
}

// finishUpload is end-6: PUT ?digest=, possibly with the last chunk.
func (a *API) finishUpload(w http.ResponseWriter, r *http.Request, name, id string) error {
	c, err := a.caller(r)
	if err != nil {
		return err
	}
	ch, err := chunk(r)
	if err != nil {
		return err
	}
	d, err := a.svc.FinishUpload(r.Context(), c, name, id, r.URL.Query().Get("digest"), ch)
	if err != nil {
		return err
	}
	writeBlobCreated(w, name, d.String())
	return nil
}

// uploadStatus is end-13: 204 with Location and Range.
func (a *API) uploadStatus(w http.ResponseWriter, r *http.Request, name, id string) error {
	c, err := a.caller(r)
	if err != nil {
		return err
	}
	u, err := a.svc.UploadStatus(r.Context(), c, name, id)
	if err != nil {
		return err
	}
	writeUpload(w, name, u, http.StatusNoContent)
	return nil
}

// cancelUpload is end-14 (main branch): DELETE of a session, 204.
func (a *API) cancelUpload(w http.ResponseWriter, r *http.Request, name, id string) error {
	c, err := a.caller(r)
	if err != nil {
		return err
	}
	if err := a.svc.CancelUpload(r.Context(), c, name, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
