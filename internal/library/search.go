package library

import (
	"context"
	"strings"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

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
	// Label is "KEY" or "KEY=VALUE": only images carrying that label (a
	// Silo addition). With a label, Value may be empty.
	Label string
	// Page (from 1) and Limit (1 to SearchLimit) page each kind of
	// result; zero means the first page of SearchLimit.
	Page, Limit int
}

// SearchResult holds what the caller may see, per kind.
type SearchResult struct {
	Entities    []meta.Entity
	Collections []meta.CollectionHit
	Containers  []meta.ContainerHit
	Images      []ImageInfo
}

const (
	// SearchLimit is the most results of each kind in one answer, and
	// the default.
	SearchLimit = 200
	// MaxSearchPage bounds how deep pages go (each deeper page costs
	// the database the rows before it).
	MaxSearchPage = 1000
	// minSearchValue is what the Library client itself requires (LA §4
	// L25); shorter values match so much that answering them would read
	// most of the database.
	minSearchValue = 3
	// maxSearchArches bounds the arch list (each one is a parameter of
	// the image query).
	maxSearchArches = 32
	// maxLabelFilter bounds a label filter.
	maxLabelFilter = 4096
)

// Search answers GET /v1/search. The store leaves out private
// collections, and everything in them, that the caller may not read.
func (s *Service) Search(ctx context.Context, p auth.Principal, q SearchQuery) (SearchResult, error) {
	var res SearchResult
	mq, err := searchQuery(p, q)
	if err != nil {
		return res, err
	}
	if mq.Text == "" {
		// A search by label alone finds images only.
		res.Images, err = s.searchImages(ctx, mq)
		return res, err
	}
	// Plain reads, not s.meta.InTx: on SQLite every transaction takes the
	// write lock, which a search has no need to hold. Each kind is one
	// query, consistent in itself, so the four run side by side: a search
	// answers in the time of its slowest kind, not of their sum. That
	// halves a PostgreSQL search (its queries run in other processes); on
	// SQLite, CPU-bound on the server's own cores, it changes little
	// (docs/library-api.md, Performance).
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { res.Entities, err = s.meta.SearchEntities(gctx, mq); return err })
	g.Go(func() (err error) { res.Collections, err = s.meta.SearchCollections(gctx, mq); return err })
	g.Go(func() (err error) { res.Containers, err = s.meta.SearchContainers(gctx, mq); return err })
	g.Go(func() (err error) { res.Images, err = s.searchImages(gctx, mq); return err })
	return res, g.Wait()
}

func (s *Service) searchImages(ctx context.Context, mq meta.SearchQuery) ([]ImageInfo, error) {
	hits, err := s.meta.SearchImages(ctx, mq)
	var out []ImageInfo
	for _, h := range hits {
		out = append(out, ImageInfo{
			Ref:   Ref{Entity: h.Entity, Collection: h.Collection, Container: h.Container},
			Image: h.Image, Tags: h.Tags})
	}
	return out, err
}

// searchQuery checks q and turns it into the store's query for p.
func searchQuery(p auth.Principal, q SearchQuery) (meta.SearchQuery, error) {
	mq := meta.SearchQuery{
		Text:   strings.TrimSpace(q.Value),
		Viewer: meta.Viewer{UserID: p.UserID, Admin: p.IsAdmin()},
		Signed: q.Signed,
	}
	if q.Label != "" {
		mq.LabelKey, mq.LabelValue, _ = strings.Cut(q.Label, "=")
		if mq.LabelKey == "" || len(q.Label) > maxLabelFilter {
			return mq, apperr.New(apperr.Invalid, "label must be KEY or KEY=VALUE (at most %d bytes)", maxLabelFilter)
		}
	}
	if n := utf8.RuneCountInString(mq.Text); n < minSearchValue && (n > 0 || mq.LabelKey == "") {
		return mq, apperr.New(apperr.Invalid, "search value must be at least %d characters", minSearchValue)
	}
	if len(q.Arches) > maxSearchArches {
		return mq, apperr.New(apperr.Invalid, "at most %d architectures", maxSearchArches)
	}
	seen := map[string]bool{}
	for _, a := range q.Arches {
		if err := bridge.CheckArch(a); err != nil {
			return mq, err
		}
		if !seen[a] {
			seen[a] = true
			mq.Arches = append(mq.Arches, a)
		}
	}
	var err error
	mq.Limit, mq.Offset, err = pageOf(q.Page, q.Limit)
	return mq, err
}

// pageOf checks a page (from 1) and limit (1 to SearchLimit), zero
// meaning the first and SearchLimit, and returns the limit and offset.
func pageOf(page, limit int) (int, int, error) {
	if limit < 0 || limit > SearchLimit {
		return 0, 0, apperr.New(apperr.Invalid, "limit must be between 1 and %d", SearchLimit)
	}
	if page < 0 || page > MaxSearchPage {
		return 0, 0, apperr.New(apperr.Invalid, "page must be between 1 and %d", MaxSearchPage)
	}
	if limit == 0 {
		limit = SearchLimit
	}
	return limit, max(page-1, 0) * limit, nil
}
