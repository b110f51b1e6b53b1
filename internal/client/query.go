package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The Library API's read calls behind `silo search`, `list`, `labels`
// and the metadata a pull records: the Sylabs search (L25) and Silo's
// additions (docs/library-api.md "SIF metadata", "Listing").

// SearchQuery is GET /v1/search's query. Label is Silo's KEY or
// KEY=VALUE filter on image labels.
type SearchQuery struct {
	Value  string
	Arch   string // comma-separated
	Signed bool
	Label  string
}

// SearchResult holds the hits of each kind the client shows.
type SearchResult struct {
	Collections []struct {
		Name       string `json:"name"`
		EntityName string `json:"entityName"`
	} `json:"collection"`
	Containers []struct {
		Name           string `json:"name"`
		EntityName     string `json:"entityName"`
		CollectionName string `json:"collectionName"`
	} `json:"container"`
	Images []Image `json:"image"`
}

// Search is GET /v1/search.
func (l *Library) Search(ctx context.Context, q SearchQuery) (SearchResult, error) {
	v := url.Values{}
	if q.Value != "" {
		v.Set("value", q.Value)
	}
	if q.Arch != "" {
		v.Set("arch", q.Arch)
	}
	if q.Signed {
		v.Set("signed", "true")
	}
	if q.Label != "" {
		v.Set("label", q.Label)
	}
	var res SearchResult
	err := l.call(ctx, http.MethodGet, "/v1/search", v, nil, &res)
	return res, err
}

// ListedContainer is one container of GET /v1/containers.
type ListedContainer struct {
	ID          string    `json:"id"`
	Entity      string    `json:"entity"`
	Collection  string    `json:"collection"`
	Container   string    `json:"container"`
	Description string    `json:"description"`
	Private     bool      `json:"private"`
	Frozen      bool      `json:"frozen"`
	UpdatedAt   time.Time `json:"updatedAt"`
	Tags        []struct {
		Tag     string `json:"tag"`
		Arch    string `json:"arch"`
		ImageID string `json:"imageID"`
	} `json:"tags"`
	Images []Image `json:"images"`
}

// ImageByID finds one of the container's images.
func (c ListedContainer) ImageByID(id string) (Image, bool) {
	for _, img := range c.Images {
		if img.ID == id {
			return img, true
		}
	}
	return Image{}, false
}

// ListQuery names containers exactly; "" matches any.
type ListQuery struct {
	Entity, Collection, Container string
}

// listPage is what one GET /v1/containers holds at most.
const listPage = 200

// ListContainers is GET /v1/containers, every page.
func (l *Library) ListContainers(ctx context.Context, q ListQuery) ([]ListedContainer, error) {
	var all []ListedContainer
	for page := 1; ; page++ {
		v := url.Values{"limit": {strconv.Itoa(listPage)}, "page": {strconv.Itoa(page)}}
		for k, s := range map[string]string{"entity": q.Entity, "collection": q.Collection, "container": q.Container} {
			if s != "" {
				v.Set(k, s)
			}
		}
		var got []ListedContainer
		if err := l.call(ctx, http.MethodGet, "/v1/containers", v, nil, &got); err != nil {
			return nil, err
		}
		all = append(all, got...)
		if len(got) < listPage {
			return all, nil
		}
	}
}

// Inspection is GET /v1/inspect's answer: the image and what the server
// read from its SIF (the fields `silo list` and the catalogue show).
type Inspection struct {
	Image      Image             `json:"image"`
	Labels     map[string]string `json:"labels"`
	Inspection struct {
		Deffile         string `json:"deffile"`
		DefinitionBuilt string `json:"definition_built"`
		Runscript       string `json:"runscript"`
		Startscript     string `json:"startscript"`
		Test            string `json:"test"`
		Environment     []struct {
			Name    string `json:"name"`
			Content string `json:"content"`
		} `json:"environment"`
		Signed bool `json:"signed"`
	} `json:"inspection"`
}

// Definition is the definition file: the SIF's object, else the one
// built into the image.
func (i Inspection) Definition() string {
	if i.Inspection.Deffile != "" {
		return i.Inspection.Deffile
	}
	return i.Inspection.DefinitionBuilt
}

// Environment joins the environment files as `singularity inspect
// --environment` shows them: each under a "=== path ===" line.
func (i Inspection) Environment() string {
	var b strings.Builder
	for _, f := range i.Inspection.Environment {
		b.WriteString("=== /.singularity.d/env/" + f.Name + " ===\n")
		b.WriteString(f.Content)
		if !strings.HasSuffix(f.Content, "\n") {
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Inspect is GET /v1/inspect/{ref}?arch=.
func (l *Library) Inspect(ctx context.Context, ref, arch string) (Inspection, error) {
	var in Inspection
	err := l.call(ctx, http.MethodGet, "/v1/inspect/"+ref, url.Values{"arch": {arch}}, nil, &in)
	return in, err
}

// LabelRow is one label on one container (GET /v1/labels).
type LabelRow struct {
	Key       string `json:"key"`
	Value     string `json:"value"`
	Container string `json:"container"` // entity/collection/container
}

// Labels is GET /v1/labels?key=&value=, every page.
func (l *Library) Labels(ctx context.Context, key, value string) ([]LabelRow, error) {
	var all []LabelRow
	for page := 1; ; page++ {
		v := url.Values{"limit": {strconv.Itoa(listPage)}, "page": {strconv.Itoa(page)}}
		if key != "" {
			v.Set("key", key)
		}
		if value != "" {
			v.Set("value", value)
		}
		var got []LabelRow
		if err := l.call(ctx, http.MethodGet, "/v1/labels", v, nil, &got); err != nil {
			return nil, err
		}
		all = append(all, got...)
		if len(got) < listPage {
			return all, nil
		}
	}
}

// Username is who the token belongs to (GET /v1/rbac/users/current),
// "" when anonymous.
func (l *Library) Username(ctx context.Context) (string, error) {
	if l.Token == "" {
		return "", nil
	}
	u, err := CurrentUser(ctx, l.HTTP, l.URL, l.Token)
	if err != nil {
		return "", err
	}
	return u.Username, nil
}
