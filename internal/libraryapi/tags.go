package libraryapi

import (
	"net/http"

	"github.com/silo-hpc/silo/internal/library"
)

// getTags implements L21 and L23, GET /v1/tags/{id} and /v2/tags/{id}
// (LA §6.6): {tag: imageID} or {arch: {tag: imageID}}, exactly 200.
func (a *API) getTags(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	tags, err := a.lib.GetTags(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if r.URL.Path[:3] == "/v1" {
		writeData(w, http.StatusOK, v1TagMap(tags))
	} else {
		writeData(w, http.StatusOK, v2TagMap(tags))
	}
	return nil
}

// setTagV1 implements L22, POST /v1/tags/{id} {"Tag","ImageID"} (LA §6.6).
func (a *API) setTagV1(w http.ResponseWriter, r *http.Request) error {
	return a.setTag(w, r, false)
}

// setTagV2 implements L24, POST /v2/tags/{id} {"Arch","Tag","ImageID"}.
func (a *API) setTagV2(w http.ResponseWriter, r *http.Request) error {
	return a.setTag(w, r, true)
}

// setTag answers exactly 200 (a 201 fails the push, LA §11.3) with the
// container's tags, as Hinkskalle does.
func (a *API) setTag(w http.ResponseWriter, r *http.Request, v2 bool) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	var body struct {
		Arch    string  `json:"Arch"`
		Tag     string  `json:"Tag"`
		ImageID looseID `json:"ImageID"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	req := library.TagRequest{Tag: body.Tag, ImageID: string(body.ImageID), Arch: body.Arch, V2: v2}
	if err := a.lib.SetTag(r.Context(), p, r.PathValue("id"), req); err != nil {
		return err
	}
	return a.getTags(w, r)
}
