package ociapi

import (
	"io"
	"net/http"
	"strconv"

	"github.com/silo-hpc/silo/internal/blob"
)

// getBlob serves GET and HEAD of a blob (end-2; spec "Pulling blobs").
// GET goes through http.ServeContent, which answers Range requests with
// 206/416 as the spec asks.
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
	blobHeaders(w, info)
	http.ServeContent(sendfile(w), r, "", info.ModTime, rc)
	return nil
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

// sendfile lets http.ServeContent reach the connection's ReadFrom (the
// kernel's sendfile for an *os.File) through middleware wrappers, which
// only expose it via Unwrap. Status and headers still go through w; the
// wrappers then do not count the body bytes.
func sendfile(w http.ResponseWriter) http.ResponseWriter {
	for inner := w; ; {
		if rf, ok := inner.(io.ReaderFrom); ok {
			if inner == w {
				return w
			}
			return readFromWriter{ResponseWriter: w, rf: rf}
		}
		u, ok := inner.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		inner = u.Unwrap()
	}
}

type readFromWriter struct {
	http.ResponseWriter
	rf io.ReaderFrom
}

func (w readFromWriter) ReadFrom(r io.Reader) (int64, error) { return w.rf.ReadFrom(r) }
