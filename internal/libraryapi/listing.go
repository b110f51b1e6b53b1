package libraryapi

import (
	"net/http"

	"github.com/silo-hpc/silo/internal/library"
)

// listedContainer is one entry of GET /v1/containers: a container, its
// tags (one per tag and architecture) and its uploaded images.
type listedContainer struct {
	ID          string      `json:"id"`
	Entity      string      `json:"entity"`
	Collection  string      `json:"collection"`
	Container   string      `json:"container"`
	Description string      `json:"description"`
	Private     bool        `json:"private"`
	Frozen      bool        `json:"frozen"`
	CreatedAt   stamp       `json:"createdAt"`
	UpdatedAt   stamp       `json:"updatedAt"`
	Tags        []listedTag `json:"tags"`
	Images      []imageJSON `json:"images"`
}

type listedTag struct {
	Tag     string `json:"tag"`
	Arch    string `json:"arch"`
	ImageID string `json:"imageID"`
}

// listContainers is GET /v1/containers?entity=&collection=&container=&limit=&page=
// (a Silo addition, docs/library-api.md "Listing"): the containers the
// caller may see, names matching exactly, with tags and images.
func (a *API) listContainers(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	v := r.URL.Query()
	q := library.ListQuery{Entity: v.Get("entity"), Collection: v.Get("collection"), Container: v.Get("container")}
	if q.Limit, err = positiveParam(r, "limit"); err != nil {
		return err
	}
	if q.Page, err = positiveParam(r, "page"); err != nil {
		return err
	}
	infos, err := a.lib.ListContainers(r.Context(), p, q)
	if err != nil {
		return err
	}
	out := make([]listedContainer, 0, len(infos))
	for _, info := range infos {
		out = append(out, listedView(info))
	}
	writeData(w, http.StatusOK, out)
	return nil
}

func listedView(info library.ContainerInfo) listedContainer {
	k := info.Container
	v := listedContainer{ID: k.ID, Entity: info.Entity.Name, Collection: info.Collection.Name, Container: k.Name,
		Description: k.Description, Private: info.Collection.Private, Frozen: k.Frozen,
		CreatedAt: stamp(k.CreatedAt), UpdatedAt: stamp(k.UpdatedAt), Tags: []listedTag{}, Images: []imageJSON{}}
	names := map[string][]string{}
	for _, t := range info.Tags {
		v.Tags = append(v.Tags, listedTag{Tag: t.Tag, Arch: t.Arch, ImageID: t.ImageID})
		names[t.ImageID] = append(names[t.ImageID], t.Tag)
	}
	for _, img := range info.Images {
		v.Images = append(v.Images, imageView(library.ImageInfo{Ref: info.Ref, Image: img, Tags: names[img.ID]}))
	}
	return v
}
