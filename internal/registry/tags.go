package registry

import (
	"context"

	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
)

// maxPage caps a page when the client gives no n; more is announced with
// a Link, which the spec allows.
const maxPage = 1000

// Page is one page of a tag list or catalog; More says a Link to the next
// page is due.
type Page struct {
	Names []string
	More  bool
}

// pageSize turns the n parameter (-1 when absent) into a limit.
func pageSize(n int) int {
	if n < 0 || n > maxPage {
		return maxPage
	}
	return n
}

// ListTags lists tags in byte order after last (end-8a, end-8b).
func (s *Service) ListTags(ctx context.Context, c Caller, name, last string, n int) (Page, error) {
	limit := pageSize(n)
	var tags []meta.Tag
	err := s.view(ctx, func(st Store) error {
		repo, err := s.pull(ctx, st, c, name)
		if err != nil || limit == 0 {
			return err
		}
		tags, err = st.ListTags(ctx, repo.ID, last, limit+1)
		return err
	})
	if err != nil {
		return Page{}, err
	}
	p := Page{Names: make([]string, 0, len(tags))}
	for i, t := range tags {
		if i == limit {
			p.More = true
			break
		}
		p.Names = append(p.Names, t.Name)
	}
	return p, nil
}

// Catalog lists the repositories the caller may see (GET /v2/_catalog).
// Private repositories of others are left out, as if they did not exist.
func (s *Service) Catalog(ctx context.Context, c Caller, last string, n int) (Page, error) {
	if !c.Allows(oci.CatalogScope.Type, oci.CatalogScope.Name, oci.ActionAll) {
		return Page{}, insufficientScope()
	}
	limit := pageSize(n)
	p := Page{Names: []string{}}
	if limit == 0 {
		return p, nil
	}
	err := s.view(ctx, func(st Store) error { return s.catalogPage(ctx, st, c.Principal, last, limit, &p) })
	return p, err
}

// catalogPage reads repositories in batches and keeps the visible ones,
// until the page is full or the table ends.
func (s *Service) catalogPage(ctx context.Context, st Store, pr auth.Principal, last string, limit int, p *Page) error {
	for {
		repos, err := st.ListRepositories(ctx, last, limit+1)
		if err != nil {
			return err
		}
		for _, r := range repos {
			_, ok, err := s.readable(ctx, st, pr, r.Name)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if len(p.Names) == limit {
				p.More = true
				return nil
			}
			p.Names = append(p.Names, r.Name)
		}
		if len(repos) <= limit {
			return nil
		}
		last = repos[len(repos)-1].Name
	}
}
