package libraryapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/library"
)

// search implements L25, GET /v1/search?value=&arch=&signed= (LA §5.4,
// §6.7): all four arrays, always present; arch may be comma-separated.
// page, limit and label are Silo additions (docs/library-api.md); the
// client sends none and gets the first 200 of each kind.
func (a *API) search(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	q := library.SearchQuery{Value: r.URL.Query().Get("value"), Signed: r.URL.Query().Get("signed") == "true",
		Label: r.URL.Query().Get("label")}
	if q.Page, err = positiveParam(r, "page"); err != nil {
		return err
	}
	if q.Limit, err = positiveParam(r, "limit"); err != nil {
		return err
	}
	for _, arch := range strings.Split(archParam(r), ",") {
		if arch = strings.TrimSpace(arch); arch != "" {
			q.Arches = append(q.Arches, arch)
		}
	}
	res, err := a.lib.Search(r.Context(), p, q)
	if err != nil {
		return err
	}
	out := struct {
		Entity     []entityJSON     `json:"entity"`
		Collection []collectionJSON `json:"collection"`
		Container  []containerJSON  `json:"container"`
		Image      []imageJSON      `json:"image"`
	}{[]entityJSON{}, []collectionJSON{}, []containerJSON{}, []imageJSON{}}
	for _, e := range res.Entities {
		out.Entity = append(out.Entity, entityView(e, nil))
	}
	for _, c := range res.Collections {
		out.Collection = append(out.Collection, collectionView(c.Entity, c.Collection, nil))
	}
	for _, k := range res.Containers {
		out.Container = append(out.Container, containerView(library.ContainerInfo{Ref: library.Ref{Entity: k.Entity, Collection: k.Collection, Container: k.Container}}))
	}
	for _, i := range res.Images {
		out.Image = append(out.Image, imageView(i))
	}
	writeData(w, http.StatusOK, out)
	return nil
}

// positiveParam reads an optional query parameter that must be a
// positive integer; 0 means absent.
func positiveParam(r *http.Request, name string) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, apperr.New(apperr.Invalid, "%s must be a positive integer", name)
	}
	return n, nil
}
