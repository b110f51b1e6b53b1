package library

import (
	"context"
	"strings"
	"unicode/utf8"

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
)

// Search answers GET /v1/search. The store leaves out private
// collections, and everything in them, that the caller may not read.
func (s *Service) Search(ctx context.Context, p auth.Principal, q SearchQuery) (SearchResult, error) {
	var res SearchResult
	mq, err := searchQuery(p, q)
	if err != nil {
		return res, err
	}
	// Plain reads, not s.meta.InTx: on SQLite every transaction takes the
	// write lock, which a search has no need to hold. Each kind is one
	// query, consistent in itself.
	if res.Entities, err = s.meta.SearchEntities(ctx, mq); err != nil {
		return res, err
	}
	if res.Collections, err = s.meta.SearchCollections(ctx, mq); err != nil {
		return res, err
	}
	if res.Containers, err = s.meta.SearchContainers(ctx, mq); err != nil {
		return res, err
	}
	hits, err := s.meta.SearchImages(ctx, mq)
	for _, h := range hits {
		res.Images = append(res.Images, ImageInfo{
			Ref:   Ref{Entity: h.Entity, Collection: h.Collection, Container: h.Container},
			Image: h.Image, Tags: h.Tags})
	}
	return res, err
}

// searchQuery checks q and turns it into the store's query for p.
func searchQuery(p auth.Principal, q SearchQuery) (meta.SearchQuery, error) {
	mq := meta.SearchQuery{
		Text:   strings.TrimSpace(q.Value),
		Viewer: meta.Viewer{UserID: p.UserID, Admin: p.IsAdmin()},
		Signed: q.Signed,
		Limit:  SearchLimit,
	}
	if utf8.RuneCountInString(mq.Text) < minSearchValue {
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
	if q.Limit < 0 || q.Limit > SearchLimit {
		return mq, apperr.New(apperr.Invalid, "limit must be between 1 and %d", SearchLimit)
	}
	if q.Page < 0 || q.Page > MaxSearchPage {
		return mq, apperr.New(apperr.Invalid, "page must be between 1 and %d", MaxSearchPage)
	}
	if q.Limit > 0 {
		mq.Limit = q.Limit
	}
	mq.Offset = max(q.Page-1, 0) * mq.Limit
	return mq, nil
}
