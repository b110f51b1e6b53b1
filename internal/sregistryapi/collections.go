package sregistryapi

import (
	"net/http"

	"github.com/silo-hpc/silo/internal/sregistry"
)

// collectionJSON is a collection as sregistry lists it (SR §5.2), with
// its entity and privacy.
type collectionJSON struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Entity     string          `json:"entity"`
	Private    bool            `json:"private"`
	AddDate    string          `json:"add_date"`
	ModifyDate string          `json:"modify_date"`
	Metadata   map[string]any  `json:"metadata"`
	Containers []containerLink `json:"containers"`
}

type containerLink struct {
	Name   string `json:"name"`
	Tag    string `json:"tag"`
	URI    string `json:"uri"`
	Detail string `json:"detail"`
}

// listing encodes a collection; detail is the container's manifest URL
// in the entity form, which names it whatever else exists.
func listing(base string, l sregistry.Listing) collectionJSON {
	c := collectionJSON{ID: l.Collection.ID, Name: l.Collection.Name, Entity: l.Entity.Name, Private: l.Collection.Private,
		AddDate: dateOf(l.Collection.CreatedAt), ModifyDate: dateOf(l.Collection.UpdatedAt),
		Metadata: map[string]any{}, Containers: []containerLink{}}
	for _, t := range l.Tags {
		uri := l.Collection.Name + "/" + t.Container.Name + ":" + t.Tag.Tag
		c.Containers = append(c.Containers, containerLink{Name: t.Container.Name, Tag: t.Tag.Tag, URI: uri,
			Detail: base + "/" + l.Entity.Name + "/api/container/" + uri})
	}
	return c
}

// collections implements GET /api/collections/ (SR §3.3, §5.2): every
// visible collection in one answer, "next" null (a non-null next makes
// the client loop forever).
func (a *API) collections(w http.ResponseWriter, r *http.Request, p params) error {
	ls, err := a.svc.Collections(r.Context(), p.entity, r.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	results := []collectionJSON{}
	for _, l := range ls {
		results = append(results, listing(a.baseURL(r), l))
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(results), "next": nil, "previous": nil, "results": results})
	return nil
}

// collection implements GET /api/collection/<name> (SR §5.3): {} when the
// caller sees no such collection, private or missing alike.
func (a *API) collection(w http.ResponseWriter, r *http.Request, p params) error {
	l, err := a.svc.Collection(r.Context(), sregistry.Name{Entity: p.entity, Collection: p.get("collection")},
		r.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	if l == nil {
		writeJSON(w, http.StatusOK, map[string]any{})
		return nil
	}
	writeJSON(w, http.StatusOK, listing(a.baseURL(r), *l))
	return nil
}

// labelJSON is one label search result (SR §5.5).
type labelJSON struct {
	Key        string   `json:"key"`
	Value      string   `json:"value"`
	Containers []string `json:"containers"`
}

// labels implements GET /api/labels/search[/<k>/key][/<v>/value]
// (SR §3.5): a list, [] when none.
func (a *API) labels(w http.ResponseWriter, r *http.Request, p params) error {
	ls, err := a.svc.Labels(r.Context(), p.get("key"), p.get("value"), r.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	out := []labelJSON{}
	for _, l := range ls {
		out = append(out, labelJSON{Key: l.Key, Value: l.Value, Containers: l.Containers})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// identity implements GET /api/registry/identity (SR §5.5).
func (a *API) identity(w http.ResponseWriter, r *http.Request, p params) error {
	base := a.baseURL(r)
	writeJSON(w, http.StatusOK, map[string]string{"name": "Silo", "id": base, "url": base})
	return nil
}

// rotate implements POST /api/collection/<name>/secret (a Silo
// addition): the collection's image URLs handed out so far stop working.
func (a *API) rotate(w http.ResponseWriter, r *http.Request, p params) error {
	err := a.svc.RotateDownloads(r.Context(), sregistry.Name{Entity: p.entity, Collection: p.get("collection")},
		r.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
