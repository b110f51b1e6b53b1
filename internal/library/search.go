package library

import (
	"context"
	"strings"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/meta"
)

// SearchQuery is GET /v1/search's query (LA §4 L25).
type SearchQuery struct {
	Value  string
	Arches []string // empty: any architecture
	Signed bool     // only signed images
}

// SearchResult holds what the caller may see, per kind.
type SearchResult struct {
	Entities    []meta.Entity
	Collections []meta.CollectionHit
	Containers  []meta.ContainerHit
	Images      []ImageInfo
}

const (
	// searchScan bounds the rows read per kind; the results are what of
	// them the caller may see, at most searchLimit.
	searchScan  = 1000
	searchLimit = 200
)

// Search answers GET /v1/search. Private collections and everything in
// them are left out unless the caller may read them.
func (s *Service) Search(ctx context.Context, p auth.Principal, q SearchQuery) (SearchResult, error) {
	var res SearchResult
	q.Value = strings.TrimSpace(q.Value)
	if q.Value == "" {
		return res, apperr.New(apperr.Invalid, "search needs a value")
	}
	for _, a := range q.Arches {
		if err := bridge.CheckArch(a); err != nil {
			return res, err
		}
	}
	err := s.meta.InTx(ctx, func(tx meta.Store) error {
		var err error
		if res.Entities, err = tx.SearchEntities(ctx, q.Value, searchLimit); err != nil {
			return err
		}
		if res.Collections, err = s.searchCollections(ctx, tx, p, q.Value); err != nil {
			return err
		}
		if res.Containers, err = s.searchContainers(ctx, tx, p, q.Value); err != nil {
			return err
		}
		res.Images, err = s.searchImages(ctx, tx, p, q)
		return err
	})
	return res, err
}

// visible memoizes read access per collection within one search.
type visible struct {
	s    *Service
	p    auth.Principal
	seen map[string]bool
}

func (v *visible) ok(ctx context.Context, st meta.Store, c meta.Collection) (bool, error) {
	if ok, done := v.seen[c.ID]; done {
		return ok, nil
	}
	ok, err := v.s.access.CanReadCollection(ctx, st, v.p, c)
	v.seen[c.ID] = ok
	return ok, err
}

func (s *Service) searchCollections(ctx context.Context, st meta.Store, p auth.Principal, text string) ([]meta.CollectionHit, error) {
	hits, err := st.SearchCollections(ctx, text, searchScan)
	if err != nil {
		return nil, err
	}
	return visibleHits(ctx, st, &visible{s: s, p: p, seen: map[string]bool{}}, hits,
		func(h meta.CollectionHit) meta.Collection { return h.Collection })
}

func (s *Service) searchContainers(ctx context.Context, st meta.Store, p auth.Principal, text string) ([]meta.ContainerHit, error) {
	hits, err := st.SearchContainers(ctx, text, searchScan)
	if err != nil {
		return nil, err
	}
	return visibleHits(ctx, st, &visible{s: s, p: p, seen: map[string]bool{}}, hits,
		func(h meta.ContainerHit) meta.Collection { return h.Collection })
}

// visibleHits keeps the hits whose collection the caller may read, up to
// searchLimit.
func visibleHits[H any](ctx context.Context, st meta.Store, v *visible, hits []H, collection func(H) meta.Collection) ([]H, error) {
	var out []H
	for _, h := range hits {
		ok, err := v.ok(ctx, st, collection(h))
		if err != nil {
			return nil, err
		}
		if ok && len(out) < searchLimit {
			out = append(out, h)
		}
	}
	return out, nil
}

func (s *Service) searchImages(ctx context.Context, st meta.Store, p auth.Principal, q SearchQuery) ([]ImageInfo, error) {
	hits, err := st.SearchImages(ctx, q.Value, q.Arches, searchScan)
	if err != nil {
		return nil, err
	}
	v := &visible{s: s, p: p, seen: map[string]bool{}}
	tags := map[string][]meta.LibraryTag{} // by container
	var out []ImageInfo
	for _, h := range hits {
		if len(out) == searchLimit {
			break
		}
		if signed, _, _ := ImageMeta(h.Image); q.Signed && !signed {
			continue
		}
		if ok, err := v.ok(ctx, st, h.Collection); err != nil || !ok {
			if err != nil {
				return nil, err
			}
			continue
		}
		if _, ok := tags[h.Container.ID]; !ok {
			if tags[h.Container.ID], err = st.ListLibraryTags(ctx, h.Container.ID); err != nil {
				return nil, err
			}
		}
		info := ImageInfo{Ref: Ref{Entity: h.Entity, Collection: h.Collection, Container: h.Container}, Image: h.Image}
		for _, t := range tags[h.Container.ID] {
			if t.ImageID == h.Image.ID {
				info.Tags = append(info.Tags, t.Tag)
			}
		}
		out = append(out, info)
	}
	return out, nil
}
