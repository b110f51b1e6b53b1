package library

import (
	"context"

	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/meta"
)

// ListQuery is GET /v1/containers's query (a Silo addition for `silo
// list` and `silo search` without a value, docs/library-api.md): names
// match exactly, an empty one matches any.
type ListQuery struct {
	Entity, Collection, Container string
	// Page (from 1) and Limit (1 to SearchLimit), as the search's (zero:
	// the first page of SearchLimit), page the containers, ordered by
	// entity, collection and container name.
	Page, Limit int
}

// ListContainers answers GET /v1/containers: the containers matching q
// that the caller may see, each with its uploaded images and tags. A
// private collection the caller may not read is missing here as
// everywhere: named, it is 404; unnamed, its containers are left out.
func (s *Service) ListContainers(ctx context.Context, p auth.Principal, q ListQuery) ([]ContainerInfo, error) {
	limit, offset, err := pageOf(q.Page, q.Limit)
	if err != nil {
		return nil, err
	}
	for kind, name := range map[string]string{"entity": q.Entity, "collection": q.Collection, "container": q.Container} {
		if name != "" {
			if err := bridge.CheckName(kind, name); err != nil {
				return nil, err
			}
		}
	}
	var out []ContainerInfo
	err = s.view(ctx, func(st Store) error {
		refs, err := s.listRefs(ctx, st, p, q, limit, offset)
		if err != nil {
			return err
		}
		for _, ref := range refs {
			info, err := containerInfo(ctx, st, ref)
			if err != nil {
				return err
			}
			out = append(out, info)
		}
		return nil
	})
	return out, err
}

// listRefs finds the page of containers q names. With an entity and a
// collection the collection is resolved like GET /v1/collections (404
// when invisible); otherwise the store lists the visible containers with
// those names, its privacy condition inside the query.
func (s *Service) listRefs(ctx context.Context, st Store, p auth.Principal, q ListQuery, limit, offset int) ([]Ref, error) {
	if q.Entity != "" && q.Collection != "" {
		e, c, err := s.bridge.CollectionByName(ctx, st, p, q.Entity, q.Collection, false)
		if err != nil {
			return nil, err
		}
		cons, err := st.ListContainers(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		var refs []Ref
		for _, k := range cons {
			if q.Container == "" || k.Name == q.Container {
				refs = append(refs, Ref{Entity: e, Collection: c, Container: k})
			}
		}
		return pageRefs(refs, offset, limit), nil
	}
	hits, err := st.FindContainers(ctx, meta.ContainerQuery{Entity: q.Entity, Collection: q.Collection, Container: q.Container,
		Viewer: viewerOf(p), Limit: limit, Offset: offset})
	refs := make([]Ref, len(hits))
	for i, h := range hits {
		refs[i] = Ref{Entity: h.Entity, Collection: h.Collection, Container: h.Container}
	}
	return refs, err
}

func pageRefs(refs []Ref, offset, limit int) []Ref {
	if offset >= len(refs) {
		return nil
	}
	refs = refs[offset:]
	return refs[:min(limit, len(refs))]
}
