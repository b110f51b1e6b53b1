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
	repo, err := s.pullRepo(ctx, c, name)
	if err != nil {
		return Page{}, err
	}
	limit := pageSize(n)
	if limit == 0 {
		return Page{Names: []string{}}, nil
	}
	tags, err := s.meta.ListTags(ctx, repo.ID, last, limit+1)
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
	if !c.allows(oci.CatalogScope.Type, oci.CatalogScope.Name, oci.ActionAll) {
		return Page{}, oci.Unauthorized(oci.CatalogScope.String(), true)
	}
	limit := pageSize(n)
	p := Page{Names: []string{}}
	if limit == 0 {
		return p, nil
	}
	// Read in batches and filter, until the page is full or the table ends.
	for {
		repos, err := s.meta.ListRepositories(ctx, last, limit+1)
		if err != nil {
			return Page{}, err
		}
		for _, r := range repos {
			ok, err := s.visible(ctx, c.Principal, r)
			if err != nil {
				return Page{}, err
			}
			if !ok {
				continue
			}
			if len(p.Names) == limit {
				p.More = true
				return p, nil
			}
			p.Names = append(p.Names, r.Name)
		}
		if len(repos) <= limit {
			return p, nil
		}
		last = repos[len(repos)-1].Name
	}
}

// visible reports whether p may see repository r.
func (s *Service) visible(ctx context.Context, p auth.Principal, r meta.Repository) (bool, error) {
	if r.ContainerID != "" && s.lib != nil {
		_, ok, err := s.readable(ctx, p, r.Name)
		return ok, err
	}
	return s.canReadPlain(ctx, s.meta, p, r)
}
