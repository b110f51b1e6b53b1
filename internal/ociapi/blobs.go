package ociapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/silo-hpc/silo/internal/blob"
)

// getBlob serves GET and HEAD of a blob (end-2; spec "Pulling blobs").
// GET goes through http.ServeContent, which answers Range requests with
// 206/416 as the spec asks. Its 416 keeps http.ServeContent's text body
// (as the distribution registry's does): the spec gives no error code for
// an unsatisfiable range, where the Library API's envelope has one
// (httpx.ServeContent).
func (a *API) getBlob(w http.ResponseWriter, r *http.Request, name, d string) error {
	c, err := a.caller(r)
	if err != nil {
		return err
	}
	if r.Method == http.MethodHead {
		info, err := a.svc.StatBlob(r.Context(), c, name, d)
		if err != nil {
			return err
		}
		blobHeaders(w, info)
		w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
		w.WriteHeader(http.StatusOK)
		return nil
	}
	rc, info, err := a.svc.OpenBlob(r.Context(), c, name, d)
	if err != nil {
		return err
	}
	defer rc.Close()
	if l, ok := rc.(blob.Located); ok {
		// The blob store serves it to clients itself (S3 with a public
		// endpoint): the spec lets a registry redirect a blob GET.
		http.Redirect(w, r, l.Location(), http.StatusTemporaryRedirect)
		return nil
	}
	blobHeaders(w, info)
	if zeroSuffix(r.Header.Get("Range")) {
		// "bytes=-0" asks for the last zero bytes: unsatisfiable (RFC 9110
		// §14.1.2), which http.ServeContent answers with a 206 and an
		// inverted Content-Range instead.
		w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(info.Size, 10))
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		return nil
	}
	http.ServeContent(w, r, "", info.ModTime, rc)
	return nil
}

// zeroSuffix reports a Range header whose only ranges are zero-length
// suffixes ("bytes=-0").
func zeroSuffix(h string) bool {
	specs, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		return false
	}
	for _, spec := range strings.Split(specs, ",") {
		spec = strings.TrimSpace(spec)
		if !strings.HasPrefix(spec, "-") || strings.Trim(spec[1:], "0") != "" || len(spec) < 2 {
			return false
		}
	}
	return true
}

func blobHeaders(w http.ResponseWriter, info blob.Info) {
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Docker-Content-Digest", info.Digest.String())
	// Content never changes under a digest: the digest is the ETag.
	h.Set("ETag", `"`+info.Digest.String()+`"`)
	h.Set("Cache-Control", "max-age=31536000")
}

// deleteBlob is end-10: 202, and the blob is gone from this repository.
func (a *API) deleteBlob(w http.ResponseWriter, r *http.Request, name, d string) error {
	c, err := a.caller(r)
	if err != nil {
		return err
	}
	if err := a.svc.DeleteBlob(r.Context(), c, name, d); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}
