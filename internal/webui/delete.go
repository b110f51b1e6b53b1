package webui

import (
	"fmt"
	"net/http"

	"github.com/silo-hpc/silo/internal/library"
)

// Deleting asks first: a GET shows what will go and a form that deletes
// it (no script, so the confirmation is a page of its own). The GET reads
// the thing as its page does, so what the caller may not see is missing
// here too.

type confirmPage struct {
	Title, What, Detail string
	Action              string // the form's path
	Fields              []field
	Back                string
}

type field struct{ Name, Value string }

func (u *UI) confirmDeleteCollection(w http.ResponseWriter, r *http.Request, c *call) error {
	ent, col, _ := pathOf(r)
	info, err := u.lib.GetCollection(r.Context(), c.p, ent, col)
	if err != nil {
		return err
	}
	back := libraryPath(ent, col)
	return u.render(w, r, c, http.StatusOK, "confirm", confirmPage{
		Title: "Delete collection", What: "the collection " + ent + "/" + col,
		Detail: fmt.Sprintf("Its %s go with it, with every image and tag in them.", plural(len(info.Containers), "container")),
		Action: back + "/-/delete", Fields: []field{{"id", info.Collection.ID}}, Back: back})
}

func (u *UI) deleteCollection(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := u.lib.DeleteCollection(r.Context(), c.p, r.PostForm.Get("id")); err != nil {
		return err
	}
	return done(w, r, libraryPath(r.PathValue("entity")), "deleted")
}

// container reads the container of the request's path.
func (u *UI) container(r *http.Request, c *call) (library.ContainerInfo, string, error) {
	ent, col, con := pathOf(r)
	info, err := u.lib.GetContainer(r.Context(), c.p, ent, col, con)
	return info, libraryPath(ent, col, con), err
}

func (u *UI) confirmDeleteContainer(w http.ResponseWriter, r *http.Request, c *call) error {
	info, back, err := u.container(r, c)
	if err != nil {
		return err
	}
	return u.render(w, r, c, http.StatusOK, "confirm", confirmPage{
		Title: "Delete container", What: "the container " + info.Path(),
		Detail: fmt.Sprintf("Its %s and %s go with it, for library:// and oras:// alike.", plural(len(info.Images), "image"), plural(len(info.Tags), "tag")),
		Action: back + "/-/delete", Fields: []field{{"id", info.Container.ID}}, Back: back})
}

func (u *UI) deleteContainer(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := u.lib.DeleteContainer(r.Context(), c.p, r.PostForm.Get("id")); err != nil {
		return err
	}
	ent, col, _ := pathOf(r)
	return done(w, r, libraryPath(ent, col), "deleted")
}

func (u *UI) confirmDeleteTag(w http.ResponseWriter, r *http.Request, c *call) error {
	info, back, err := u.container(r, c)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	tag, arch := q.Get("tag"), q.Get("arch")
	if err := invalidIf(tag == "", "which tag?"); err != nil {
		return err
	}
	what := fmt.Sprintf("the tag %s:%s", info.Path(), tag)
	if arch != "" {
		what += " for " + arch
	}
	return u.render(w, r, c, http.StatusOK, "confirm", confirmPage{
		Title: "Delete tag", What: what, Detail: "The image stays; pulls of this tag stop working.",
		Action: back + "/-/delete-tag", Fields: []field{{"id", info.Container.ID}, {"tag", tag}, {"arch", arch}}, Back: back})
}

func (u *UI) deleteTag(w http.ResponseWriter, r *http.Request, c *call) error {
	f := r.PostForm
	if err := u.lib.DeleteTag(r.Context(), c.p, f.Get("id"), f.Get("tag"), f.Get("arch")); err != nil {
		return err
	}
	ent, col, con := pathOf(r)
	return done(w, r, libraryPath(ent, col, con), "deleted")
}

func (u *UI) confirmDeleteImage(w http.ResponseWriter, r *http.Request, c *call) error {
	info, back, err := u.container(r, c)
	if err != nil {
		return err
	}
	hash := r.URL.Query().Get("image")
	if err := invalidIf(hash == "", "which image?"); err != nil {
		return err
	}
	return u.render(w, r, c, http.StatusOK, "confirm", confirmPage{
		Title: "Delete image", What: "the image " + hash + " of " + info.Path(),
		Detail: "The tags naming it go with it.",
		Action: back + "/-/delete-image", Fields: []field{{"image", hash}}, Back: back})
}

func (u *UI) deleteImage(w http.ResponseWriter, r *http.Request, c *call) error {
	ent, col, con := pathOf(r)
	ref := ent + "/" + col + "/" + con + ":" + r.PostForm.Get("image")
	if err := u.lib.DeleteImage(r.Context(), c.p, ref, ""); err != nil {
		return err
	}
	return done(w, r, libraryPath(ent, col, con), "deleted")
}

// plural is "1 image", "2 images".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
