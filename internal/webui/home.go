package webui

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/library"
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
	// Page is the page shown (from 1); Newer and Older link the pages
	// beside it ("" when there is none).
	Page         int
	Newer, Older string
}

// searchPageSize is how many results of each kind a search page shows.
const searchPageSize = 50

// search is the Library API's search (GET /v1/search): by name or
// description, label, architecture and signed; what the caller may not
// read is left out. A label narrows the images (alone, it finds images
// only). Results come newest first, searchPageSize of each kind a page;
// a page on which any kind is full links the next, older one.
func (u *UI) search(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	page := searchPage{Form: searchForm{Q: strings.TrimSpace(q.Get("q")), Arch: q.Get("arch"),
		Label: strings.TrimSpace(q.Get("label")), Signed: q.Get("signed") != "", Arches: knownArches}, Page: 1}
	page.Asked = page.Form.Q != "" || page.Form.Label != ""
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > library.MaxSearchPage {
			page.Error = fmt.Sprintf("page must be between 1 and %d", library.MaxSearchPage)
		}
		page.Page = n
	}
	if page.Asked && page.Error == "" {
		sq := library.SearchQuery{Value: page.Form.Q, Label: page.Form.Label, Signed: page.Form.Signed,
			Page: page.Page, Limit: searchPageSize}
		if page.Form.Arch != "" {
			sq.Arches = []string{page.Form.Arch}
		}
		var err error
		page.Result, err = u.lib.Search(r.Context(), c.p, sq)
		if apperr.Is(err, apperr.Invalid) {
			page.Error, err = apperr.MessageOf(err), nil
		}
		if err != nil {
			return err
		}
		res := page.Result
		at := func(n int) string { q.Set("page", strconv.Itoa(n)); return "/search?" + q.Encode() }
		if page.Page > 1 {
			page.Newer = at(page.Page - 1)
		}
		full := max(len(res.Entities), len(res.Collections), len(res.Containers), len(res.Images)) == searchPageSize
		if full && page.Page < library.MaxSearchPage {
			page.Older = at(page.Page + 1)
		}
	}
	return u.render(w, r, c, http.StatusOK, "search", page)
}
