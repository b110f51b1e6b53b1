package webui

import (
	"net/http"
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
}

// search is the Library API's search (GET /v1/search): by name or
// description, label, architecture and signed; what the caller may not
// read is left out. A label narrows the images (alone, it finds images
// only).
func (u *UI) search(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	page := searchPage{Form: searchForm{Q: strings.TrimSpace(q.Get("q")), Arch: q.Get("arch"),
		Label: strings.TrimSpace(q.Get("label")), Signed: q.Get("signed") != "", Arches: knownArches}}
	page.Asked = page.Form.Q != "" || page.Form.Label != ""
	if page.Asked {
		sq := library.SearchQuery{Value: page.Form.Q, Label: page.Form.Label, Signed: page.Form.Signed, Limit: 50}
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
	}
	return u.render(w, r, c, http.StatusOK, "search", page)
}
