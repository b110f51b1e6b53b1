package sregistryapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/silo-hpc/silo/internal/httpx"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/sregistry"
)

// containerJSON is sregistry's SingleContainerSerializer (SR §5.1) with
// commit, which Singularity's shub cache keys on (SR §4), and entity, the
// part of the name sregistry does not have. Search results (SR §5.4)
// leave out image and commit.
type containerJSON struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Image      string         `json:"image,omitempty"`
	Tag        string         `json:"tag"`
	AddDate    string         `json:"add_date"`
	Metrics    map[string]any `json:"metrics"`
	Version    string         `json:"version"`
	Frozen     bool           `json:"frozen"`
	Metadata   any            `json:"metadata"`
	Collection string         `json:"collection"`
	Entity     string         `json:"entity"`
	Commit     string         `json:"commit,omitempty"`
}

// metadataJSON is the metadata object of SR §5.1.
type metadataJSON struct {
	Deffile     *string `json:"deffile"`
	Environment *string `json:"environment"`
	Runscript   *string `json:"runscript"`
	Test        *string `json:"test"`
	SizeMB      int64   `json:"size_mb"`
}

// dateOf is DRF's ISO 8601 with microseconds.
func dateOf(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00") }

// versionOf is sregistry's version of an image: "sha256.<hex>".
func versionOf(img meta.Image) string { return strings.Replace(img.Digest, ":", ".", 1) }

// parseRef splits "<name>[:<tag>][@<version>]" (SR §3.1, §4).
func parseRef(ref string) (name, tag, version string) {
	ref, version, _ = strings.Cut(ref, "@")
	name, tag, _ = strings.Cut(ref, ":")
	return name, tag, version
}

// getContainer implements the manifest GET of both pull clients
// (SR §3.1 steps 1-3, §4).
func (a *API) getContainer(w http.ResponseWriter, r *http.Request, p params) error {
	name, tag, version := parseRef(p.get("ref"))
	c, err := a.svc.Container(r.Context(), sregistry.ContainerRequest{
		Name:    sregistry.Name{Entity: p.entity, Collection: p.get("collection"), Container: name, Tag: tag},
		Version: version, Authorization: r.Header.Get("Authorization"), CannotSign: shubClient(r)})
	if err != nil {
		return err
	}
	d := c.Download
	md := c.Metadata
	writeJSON(w, http.StatusOK, containerJSON{
		ID: c.Image.ID, Name: c.Container.Name, Tag: c.Tag, AddDate: dateOf(c.Image.CreatedAt), Metrics: map[string]any{},
		Version: versionOf(c.Image), Frozen: c.Container.Frozen, Collection: c.Collection.Name, Entity: c.Entity.Name,
		Image:    a.baseURL(r) + "/api/download/" + d.CollectionID + "/" + d.Digest + "/" + d.MAC,
		Commit:   d.Digest,
		Metadata: metadataJSON{Deffile: md.Deffile, Environment: md.Environment, Runscript: md.Runscript, Test: md.Test, SizeMB: md.SizeMB},
	})
	return nil
}

// shubClient reports a request from Singularity's or Apptainer's shub
// client, which has no authentication (SR §4).
func shubClient(r *http.Request) bool {
	ua := r.Header.Get("User-Agent")
	return strings.HasPrefix(ua, "Singularity/") || strings.HasPrefix(ua, "Apptainer/")
}

// download implements the image URL (SR §5.6): HEAD and GET without
// authorization, 200 with Content-Length and ranges (http.ServeContent,
// sendfile on the filesystem store), never a redirect and never gzip.
func (a *API) download(w http.ResponseWriter, r *http.Request, p params) error {
	d, err := a.svc.OpenDownload(r.Context(), sregistry.Capability{
		CollectionID: p.get("collection"), Digest: p.get("digest"), MAC: p.get("mac")})
	if err != nil {
		return err
	}
	defer d.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+d.Filename+`"`)
	w.Header().Set("ETag", `"`+d.Digest.String()+`"`)
	// The blob reader itself, so a file reaches sendfile.
	return httpx.ServeContent(w, r, d.ModTime, d.ReadSeekCloser)
}

// deleteContainer implements sregistry-cli's delete (SR §3.4): 204.
func (a *API) deleteContainer(w http.ResponseWriter, r *http.Request, p params) error {
	name, tag, _ := parseRef(p.get("ref"))
	err := a.svc.Delete(r.Context(), sregistry.DeleteRequest{
		Name:          sregistry.Name{Entity: p.entity, Collection: p.get("collection"), Container: name, Tag: tag},
		Authorization: r.Header.Get("Authorization")})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// search implements GET /api/container/search/... (SR §3.3, §5.4): a
// list, [] when nothing matches.
func (a *API) search(w http.ResponseWriter, r *http.Request, p params) error {
	rows, err := a.svc.SearchTags(r.Context(), sregistry.Name{Entity: p.entity, Collection: p.get("collection"),
		Container: p.get("name"), Tag: p.get("tag")}, r.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	out := []containerJSON{}
	for _, t := range rows {
		out = append(out, containerJSON{ID: t.Image.ID, Name: t.Container.Name, Tag: t.Tag.Tag,
			AddDate: dateOf(t.Image.CreatedAt), Metrics: map[string]any{}, Version: versionOf(t.Image),
			Frozen: t.Container.Frozen, Metadata: map[string]any{}, Collection: t.Collection.Name, Entity: t.Entity.Name})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
