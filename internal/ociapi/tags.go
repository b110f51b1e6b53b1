package ociapi

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/registry"
)

// pageParams parses n (-1 when absent) and last.
func pageParams(r *http.Request) (n int, last string, err error) {
	q := r.URL.Query()
	n = -1
	if v := q.Get("n"); v != "" {
		if n, err = strconv.Atoi(v); err != nil || n < 0 {
			return 0, "", apperr.New(apperr.Invalid, "invalid n %q", v)
		}
	}
	return n, q.Get("last"), nil
}

// writePage writes a tag list or catalog page with an RFC 5988 Link to the
// next page when there is one.
func writePage(w http.ResponseWriter, path string, n int, p registry.Page, body any) {
	if p.More && len(p.Names) > 0 {
		q := url.Values{"last": {p.Names[len(p.Names)-1]}}
		if n > 0 {
			q.Set("n", strconv.Itoa(n))
		}
		w.Header().Set("Link", "<"+path+"?"+q.Encode()+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, body)
}

// listTags is end-8a/end-8b (spec "Listing Tags"): byte order, n and
// last, n=0 an empty list.
func (a *API) listTags(w http.ResponseWriter, r *http.Request, name, _ string) error {
	c, err := a.caller(r)
	if err != nil {
		return err
	}
	n, last, err := pageParams(r)
	if err != nil {
		return err
	}
	p, err := a.svc.ListTags(r.Context(), c, name, last, n)
	if err != nil {
		return err
	}
	writePage(w, r.URL.Path, n, p, struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{name, p.Names})
	return nil
}

// catalog is GET /v2/_catalog (distribution's catalog API; not in the OCI
// spec): the repositories the caller may see, paginated like tags.
func (a *API) catalog(w http.ResponseWriter, r *http.Request) error {
	c, err := a.caller(r)
	if err != nil {
		return err
	}
	n, last, err := pageParams(r)
	if err != nil {
		return err
	}
	p, err := a.svc.Catalog(r.Context(), c, last, n)
	if err != nil {
		return err
	}
	writePage(w, r.URL.Path, n, p, struct {
		Repositories []string `json:"repositories"`
	}{p.Names})
	return nil
}
