package sregistry

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/library"
	"github.com/silo-hpc/silo/internal/meta"
)

// Listing is a collection with its tagged containers, one row per
// container and tag (the first architecture's image when a tag has
// several).
type Listing struct {
	meta.CollectionHit
	Tags []meta.TagRow
}

// reader authenticates a request sregistry-cli never signs (listings,
// searches): anonymous, or a Silo token.
func (s *Service) reader(ctx context.Context, authz string) (auth.Principal, error) {
	return s.principal(ctx, authz, "", signed{})
}

// entityID finds an entity by name for a listing; ok false when there is
// none (a listing of it is empty, as of one with nothing visible).
func (s *Service) entityID(ctx context.Context, name string) (string, bool, error) {
	if name == "" {
		return "", true, nil
	}
	e, err := s.meta.GetEntityByName(ctx, name)
	if apperr.Is(err, apperr.NotFound) {
		return "", false, nil
	}
	return e.ID, err == nil, err
}

// Collections answers GET /api/collections/ (SR §3.3, §5.2): every
// collection the caller may see (in one entity for /<entity>/api/),
// with its tagged containers, in one answer.
func (s *Service) Collections(ctx context.Context, entity, authz string) ([]Listing, error) {
	p, err := s.reader(ctx, authz)
	if err != nil {
		return nil, err
	}
	n, err := clean(Name{Entity: entity})
	if err != nil {
		return nil, err
	}
	id, ok, err := s.entityID(ctx, n.Entity)
	if err != nil || !ok {
		return nil, err
	}
	v := viewerOf(p)
	cols, err := s.meta.FindCollections(ctx, meta.CollectionQuery{EntityID: id, Viewer: v})
	if err != nil {
		return nil, err
	}
	tags, err := s.meta.FindTags(ctx, meta.TagQuery{EntityID: id, Viewer: v})
	return group(cols, tags), err
}

// Collection answers GET /api/collection/<name> (SR §5.3): nil when the
// caller sees no such collection.
func (s *Service) Collection(ctx context.Context, n Name, authz string) (*Listing, error) {
	p, err := s.reader(ctx, authz)
	if err != nil {
		return nil, err
	}
	if n, err = normalize(n); err != nil {
		return nil, err
	}
	ent, err := s.entityOf(ctx, p, n, false)
	if apperr.Is(err, apperr.NotFound) && !isAmbiguous(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	id, ok, err := s.entityID(ctx, ent)
	if err != nil || !ok {
		return nil, err
	}
	v := viewerOf(p)
	cols, err := s.meta.FindCollections(ctx, meta.CollectionQuery{EntityID: id, Name: n.Collection, Viewer: v})
	if err != nil || len(cols) == 0 {
		return nil, err
	}
	tags, err := s.meta.FindTags(ctx, meta.TagQuery{EntityID: id, Collection: n.Collection, Viewer: v})
	l := group(cols, tags)
	return &l[0], err
}

// group gives each collection its tags; rows are in the same order.
func group(cols []meta.CollectionHit, tags []meta.TagRow) []Listing {
	out := make([]Listing, len(cols))
	at := map[string]int{}
	for i, c := range cols {
		out[i].CollectionHit = c
		at[c.Collection.ID] = i
	}
	for _, t := range distinct(tags) {
		if i, ok := at[t.Collection.ID]; ok {
			out[i].Tags = append(out[i].Tags, t)
		}
	}
	return out
}

// distinct keeps one row per container and tag (rows come ordered by
// container, tag, then architecture).
func distinct(rows []meta.TagRow) []meta.TagRow {
	var out []meta.TagRow
	for _, r := range rows {
		if n := len(out); n > 0 && out[n-1].Container.ID == r.Container.ID && out[n-1].Tag.Tag == r.Tag.Tag {
			continue
		}
		out = append(out, r)
	}
	return out
}

// SearchTags answers GET /api/container/search/... (SR §3.3): the
// containers with exactly these names ("" matches any) the caller may
// see, across entities for the bare forms.
func (s *Service) SearchTags(ctx context.Context, n Name, authz string) ([]meta.TagRow, error) {
	p, err := s.reader(ctx, authz)
	if err != nil {
		return nil, err
	}
	if n, err = clean(n); err != nil {
		return nil, err
	}
	id, ok, err := s.entityID(ctx, n.Entity)
	if err != nil || !ok {
		return nil, err
	}
	rows, err := s.meta.FindTags(ctx, meta.TagQuery{EntityID: id, Collection: n.Collection, Container: n.Container, Tag: n.Tag, Viewer: viewerOf(p)})
	return distinct(rows), err
}

// Label is one label and the containers (collection/container:tag)
// whose images carry it.
type Label struct {
	Key, Value string
	Containers []string
}

// maxLabelRows bounds a label search, which sregistry answers in one
// response.
const maxLabelRows = 10000

// Labels answers GET /api/labels/search[/<key>/key][/<value>/value]
// (SR §3.5), over the library's label listing (privacy in the query).
// Case is ignored: sregistry stores labels lowercased and its client
// lowercases the key and value it asks for, while Silo keeps labels as
// the SIF has them ("Maintainer").
func (s *Service) Labels(ctx context.Context, key, value, authz string) ([]Label, error) {
	p, err := s.reader(ctx, authz)
	if err != nil {
		return nil, err
	}
	var rows []meta.LabelRow
	for n := 1; len(rows) < maxLabelRows; n++ {
		page, err := s.lib.ListLabels(ctx, p, library.LabelQuery{Key: key, Value: value, Fold: true, Limit: library.SearchLimit, Page: n})
		if err != nil {
			return nil, err
		}
		rows = append(rows, page...)
		if len(page) < library.SearchLimit {
			break
		}
	}
	return s.labelContainers(ctx, rows)
}

// labelContainers names, for each label, the tags whose images carry it.
func (s *Service) labelContainers(ctx context.Context, rows []meta.LabelRow) ([]Label, error) {
	var out []Label
	labels := map[string]map[string]string{} // image id -> labels
	for _, r := range rows {
		if n := len(out); n == 0 || out[n-1].Key != r.Key || out[n-1].Value != r.Value {
			out = append(out, Label{Key: r.Key, Value: r.Value, Containers: []string{}})
		}
		tags, err := s.meta.ListLibraryTags(ctx, r.Container.Container.ID)
		if err != nil {
			return nil, err
		}
		last := &out[len(out)-1]
		for _, t := range tags {
			if _, ok := labels[t.ImageID]; !ok {
				if labels[t.ImageID], err = s.meta.GetLabels(ctx, t.ImageID); err != nil {
					return nil, err
				}
			}
			uri := r.Container.Collection.Name + "/" + r.Container.Container.Name + ":" + t.Tag
			if labels[t.ImageID][r.Key] == r.Value && (len(last.Containers) == 0 || last.Containers[len(last.Containers)-1] != uri) {
				last.Containers = append(last.Containers, uri)
			}
		}
	}
	return out, nil
}

// DeleteRequest is DELETE /api/container/<collection>/<name>:<tag>.
type DeleteRequest struct {
	Name          Name
	Authorization string
}

// Delete answers sregistry-cli's delete (SR §3.4) with the library's
// delete: the image the tag names goes, with its tags; only the
// collection's owner or an admin may (stricter than sregistry), and a
// frozen container keeps its tagged images.
func (s *Service) Delete(ctx context.Context, req DeleteRequest) error {
	raw := req.Name
	n, err := normalize(req.Name)
	if err != nil {
		return err
	}
	p, err := s.principal(ctx, req.Authorization, kindDelete, signed{raw.Collection, raw.Container, n.Tag})
	if err == nil {
		err = bridge.RequireUser(p)
	}
	if err != nil {
		return err
	}
	ent, err := s.entityOf(ctx, p, n, false)
	if err != nil {
		return err
	}
	return s.lib.DeleteImage(ctx, p, path(ent, n)+":"+n.Tag, "")
}

// RotateDownloads gives a collection a new download salt: every image URL
// handed out for it before stops working (what sregistry does by changing
// the collection's secret). Owners and admins, with a Silo token.
func (s *Service) RotateDownloads(ctx context.Context, n Name, authz string) error {
	p, err := s.reader(ctx, authz)
	if err != nil {
		return err
	}
	return s.rotateDownloads(ctx, p, n)
}

// RotateDownloadsAs is RotateDownloads of entity/collection for a
// principal already known (the web UI's session, `silo admin`).
func (s *Service) RotateDownloadsAs(ctx context.Context, p auth.Principal, entity, collection string) error {
	return s.rotateDownloads(ctx, p, Name{Entity: entity, Collection: collection})
}

func (s *Service) rotateDownloads(ctx context.Context, p auth.Principal, n Name) error {
	err := bridge.RequireUser(p)
	if err == nil {
		n, err = normalize(n)
	}
	if err != nil {
		return err
	}
	ent, err := s.entityOf(ctx, p, n, false)
	if err != nil {
		return err
	}
	var salt [16]byte
	if _, err := rand.Read(salt[:]); err != nil {
		panic(err)
	}
	return meta.Tx(ctx, s.meta, func(tx Store) error {
		e, c, err := s.bridge.CollectionByName(ctx, tx, p, ent, n.Collection, false)
		if err != nil {
			return err
		}
		if err := s.bridge.Writable(ctx, tx, p, bridge.Ref{Entity: e, Collection: c}); err != nil {
			return err
		}
		return tx.SetDownloadSalt(ctx, c.ID, hex.EncodeToString(salt[:]))
	})
}
