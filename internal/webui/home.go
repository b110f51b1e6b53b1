package webui

import (
	"net/http"
	"strings"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/library"
	"github.com/silo-hpc/silo/internal/meta"
)

// homeRecent is how many recent pushes the home page lists.
const homeRecent = 20

type homePage struct {
	Recent []library.ImageInfo
	Form   searchForm
}

func (u *UI) home(w http.ResponseWriter, r *http.Request, c *call) error {
	recent, err := u.lib.Recent(r.Context(), c.p, homeRecent)
	if err != nil {
		return err
	}
	return u.render(w, r, c, http.StatusOK, "home", homePage{Recent: recent, Form: searchForm{Arches: knownArches}})
}

// searchForm is the search form's fields (the home page has it too).
type searchForm struct {
	Q, Arch, Label string
	Signed         bool
	Arches         []string
}

// knownArches are the architectures the form offers (Go names, as SIF
// headers and the Library API have them).
var knownArches = []string{"amd64", "arm64", "ppc64le", "s390x", "386", "arm", "riscv64"}

type searchPage struct {
	Form   searchForm
	Asked  bool
	Error  string
	Result library.SearchResult
	// Labelled are the containers whose images carry the label asked for.
	Labelled []meta.LabelRow
}

// search finds by name (and architecture, signed) with the Library API's
// search, and by label with its label listing; both leave out what the
// caller may not read.
// MERGE(search2): when /v1/search takes labels (SearchQuery.Labels), pass
// the label there and drop the separate listing.
func (u *UI) search(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	page := searchPage{Form: searchForm{Q: strings.TrimSpace(q.Get("q")), Arch: q.Get("arch"),
		Label: strings.TrimSpace(q.Get("label")), Signed: q.Get("signed") != "", Arches: knownArches}}
	page.Asked = page.Form.Q != "" || page.Form.Label != ""
	var err error
	if page.Form.Q != "" {
		sq := library.SearchQuery{Value: page.Form.Q, Signed: page.Form.Signed, Limit: 50}
		if page.Form.Arch != "" {
			sq.Arches = []string{page.Form.Arch}
		}
		page.Result, err = u.lib.Search(r.Context(), c.p, sq)
	}
	if err == nil && page.Form.Label != "" {
		key, value, _ := strings.Cut(page.Form.Label, "=")
		page.Labelled, err = u.lib.ListLabels(r.Context(), c.p, library.LabelQuery{Key: key, Value: value, Limit: 50})
	}
	if apperr.Is(err, apperr.Invalid) {
		page.Error, err = apperr.MessageOf(err), nil
	}
	if err != nil {
		return err
	}
	return u.render(w, r, c, http.StatusOK, "search", page)
}
