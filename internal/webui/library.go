package webui

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/library"
	"github.com/silo-hpc/silo/internal/meta"
)

// Library pages live under /library/{entity}/{collection}/{container};
// actions under a "-" segment, which no name can be (names start with a
// letter or digit), so no action path is a page path.
func (u *UI) libraryRoutes() {
	u.handle("GET /library/{entity}", u.entityPage)
	u.handle("POST /library/{entity}/-/collections", u.createCollection)
	u.handle("GET /library/{entity}/{collection}", u.collectionPage)
	u.handle("POST /library/{entity}/{collection}/-/privacy", u.setPrivacy)
	u.handle("POST /library/{entity}/{collection}/-/grants", u.setGrant)
	u.handle("POST /library/{entity}/{collection}/-/rotate-urls", u.rotateURLs)
	u.handle("GET /library/{entity}/{collection}/-/delete", u.confirmDeleteCollection)
	u.handle("POST /library/{entity}/{collection}/-/delete", u.deleteCollection)
	u.handle("GET /library/{entity}/{collection}/{container}", u.containerPage)
	u.handle("POST /library/{entity}/{collection}/{container}/-/freeze", u.setFrozen)
	u.handle("GET /library/{entity}/{collection}/{container}/-/delete", u.confirmDeleteContainer)
	u.handle("POST /library/{entity}/{collection}/{container}/-/delete", u.deleteContainer)
	u.handle("GET /library/{entity}/{collection}/{container}/-/delete-tag", u.confirmDeleteTag)
	u.handle("POST /library/{entity}/{collection}/{container}/-/delete-tag", u.deleteTag)
	u.handle("GET /library/{entity}/{collection}/{container}/-/delete-image", u.confirmDeleteImage)
	u.handle("POST /library/{entity}/{collection}/{container}/-/delete-image", u.deleteImage)
}

// libraryPath is the page of entity[/collection[/container]], each
// segment escaped.
func libraryPath(names ...string) string {
	for i, n := range names {
		names[i] = url.PathEscape(n)
	}
	return "/library/" + strings.Join(names, "/")
}

// pathOf returns the request's entity, collection and container names.
func pathOf(r *http.Request) (ent, col, con string) {
	return r.PathValue("entity"), r.PathValue("collection"), r.PathValue("container")
}

type entityPage struct {
	library.EntityInfo
}

func (u *UI) entityPage(w http.ResponseWriter, r *http.Request, c *call) error {
	info, err := u.lib.GetEntity(r.Context(), c.p, r.PathValue("entity"))
	if err != nil {
		return err
	}
	return u.render(w, r, c, http.StatusOK, "entity", entityPage{info})
}

// privacyChoice turns the form's "private" (server default, public,
// private) into the service's.
func privacyChoice(v string) *bool {
	b := v == "private"
	if v != "private" && v != "public" {
		return nil
	}
	return &b
}

func (u *UI) createCollection(w http.ResponseWriter, r *http.Request, c *call) error {
	f := r.PostForm
	info, err := u.lib.CreateCollection(r.Context(), c.p, f.Get("entity_id"), strings.TrimSpace(f.Get("name")),
		strings.TrimSpace(f.Get("description")), privacyChoice(f.Get("private")))
	if err != nil {
		return err
	}
	return done(w, r, libraryPath(info.Entity.Name, info.Collection.Name), "collection")
}

type collectionPage struct {
	library.CollectionInfo
	MayWrite bool
	Grants   []meta.Team
	// MayRotate: the server speaks sregistry's API, whose image URLs the
	// owner may end (rotateURLs).
	MayRotate bool
}

func (u *UI) collectionPage(w http.ResponseWriter, r *http.Request, c *call) error {
	ent, col, _ := pathOf(r)
	info, err := u.lib.GetCollection(r.Context(), c.p, ent, col)
	if err != nil {
		return err
	}
	page := collectionPage{CollectionInfo: info, MayWrite: u.lib.MayWrite(c.p, info.Collection)}
	page.MayRotate = page.MayWrite && u.sreg != nil
	if page.MayWrite {
		if page.Grants, err = u.lib.CollectionTeams(r.Context(), c.p, info.Collection.ID); err != nil {
			return err
		}
	}
	return u.render(w, r, c, http.StatusOK, "collection", page)
}

func (u *UI) setPrivacy(w http.ResponseWriter, r *http.Request, c *call) error {
	private := r.PostForm.Get("private") == "true"
	info, err := u.lib.UpdateCollection(r.Context(), c.p, r.PostForm.Get("id"), library.CollectionUpdate{Private: &private})
	if err != nil {
		return err
	}
	code := "public"
	if private {
		code = "private"
	}
	return done(w, r, libraryPath(info.Entity.Name, info.Collection.Name), code)
}

// rotateURLs ends every sregistry image URL handed out for the collection
// (the service decides who may: its owner or an admin).
func (u *UI) rotateURLs(w http.ResponseWriter, r *http.Request, c *call) error {
	if u.sreg == nil {
		return apperr.New(apperr.NotFound, "not found")
	}
	ent, col, _ := pathOf(r)
	if err := u.sreg.RotateDownloadsAs(r.Context(), c.p, ent, col); err != nil {
		return err
	}
	return done(w, r, libraryPath(ent, col), "rotated")
}

func (u *UI) setGrant(w http.ResponseWriter, r *http.Request, c *call) error {
	f := r.PostForm
	grant := f.Get("action") != "revoke"
	if err := u.lib.SetGrant(r.Context(), c.p, f.Get("id"), strings.TrimSpace(f.Get("team")), grant); err != nil {
		return err
	}
	ent, col, _ := pathOf(r)
	code := "granted"
	if !grant {
		code = "ungranted"
	}
	return done(w, r, libraryPath(ent, col), code)
}

func (u *UI) setFrozen(w http.ResponseWriter, r *http.Request, c *call) error {
	frozen := r.PostForm.Get("frozen") == "true"
	info, err := u.lib.UpdateContainer(r.Context(), c.p, r.PostForm.Get("id"), library.ContainerUpdate{Frozen: &frozen})
	if err != nil {
		return err
	}
	code := "unfrozen"
	if frozen {
		code = "frozen"
	}
	return done(w, r, libraryPath(info.Entity.Name, info.Collection.Name, info.Container.Name), code)
}

// invalidIf is an Invalid error when cond holds.
func invalidIf(cond bool, format string, args ...any) error {
	if cond {
		return apperr.New(apperr.Invalid, format, args...)
	}
	return nil
}
