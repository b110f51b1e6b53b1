package ociapi

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/oci"
)

// getManifest serves GET and HEAD of a manifest (end-3; spec "Pulling
// manifests"): the exact pushed bytes, the pushed Content-Type, and
// Docker-Content-Digest and Content-Length on both (GGCR needs all three
// on HEAD, notes §4.6).
func (a *API) getManifest(w http.ResponseWriter, r *http.Request, name, reference string) error {
	c, err := a.caller(r)
	if err != nil {
		return err
	}
	m, err := a.svc.GetManifest(r.Context(), c, name, reference)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", m.MediaType)
	h.Set("Docker-Content-Digest", m.Digest.String())
	h.Set("Content-Length", strconv.Itoa(len(m.Content)))
	h.Set("ETag", `"`+m.Digest.String()+`"`)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(m.Content)
	}
	return nil
}

// putManifest is end-7 (spec "Pushing Manifests"): 201 with Location and
// Docker-Content-Digest, OCI-Subject when the manifest has a subject, and
// 413 above oci.MaxManifestSize.
func (a *API) putManifest(w http.ResponseWriter, r *http.Request, name, reference string) error {
	c, err := a.caller(r)
	if err != nil {
		return err
	}
	body, err := readManifest(r)
	if err != nil {
		return err
	}
	res, err := a.svc.PutManifest(r.Context(), c, name, reference, r.Header.Get("Content-Type"), body)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Location", "/v2/"+name+"/manifests/"+res.Digest.String())
	h.Set("Docker-Content-Digest", res.Digest.String())
	if res.Subject != "" {
		h.Set("OCI-Subject", res.Subject.String())
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// readManifest reads at most oci.MaxManifestSize bytes; one byte more
// means the manifest is too large.
func readManifest(r *http.Request) ([]byte, error) {
	if r.ContentLength > oci.MaxManifestSize {
		return nil, tooLarge()
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, oci.MaxManifestSize+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge()
		}
		return nil, apperr.About(apperr.Manifest, apperr.Wrap(apperr.Invalid, err, "reading manifest"))
	}
	if len(body) > oci.MaxManifestSize {
		return nil, tooLarge()
	}
	return body, nil
}

func tooLarge() error {
	return apperr.E(apperr.TooLarge, apperr.Manifest, "manifest larger than %d bytes", oci.MaxManifestSize)
}

// deleteManifest is end-9: a tag, or a manifest by digest with its tags.
func (a *API) deleteManifest(w http.ResponseWriter, r *http.Request, name, reference string) error {
	c, err := a.caller(r)
	if err != nil {
		return err
	}
	if err := a.svc.DeleteManifest(r.Context(), c, name, reference); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}
