package webui

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/library"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/sifinspect"
)

type containerPage struct {
	library.ContainerInfo
	MayWrite bool
	Tags     []tagRow
	Images   []imageRow
	// Selected is the image whose metadata the page shows: ?image=, else
	// the one "latest" names, else the newest.
	Selected *imageDetail
	// Tag is the tag the pull commands name.
	Tag string
	// Size and Downloads are the images' totals.
	Size, Downloads int64
}

// tagRow is one tag with the image each architecture's tag names.
type tagRow struct {
	Tag    string
	Arches []tagArch
}

type tagArch struct {
	Arch  string
	Image meta.Image
}

type imageRow struct {
	Image meta.Image
	Tags  []string
	Badge sigBadge
}

type imageDetail struct {
	Image      meta.Image
	Tags       []string
	Inspection *sifinspect.Inspection
	// Badge, Checks and CheckedAt are the check of the image's
	// signatures against the keys the keyserver holds.
	Badge     sigBadge
	Checks    []library.SignatureCheck
	CheckedAt time.Time
	Labels    []label
	// Pending says why there is no inspection yet.
	Pending string
}

type label struct{ Key, Value string }

func (u *UI) containerPage(w http.ResponseWriter, r *http.Request, c *call) error {
	ent, col, con := pathOf(r)
	info, err := u.lib.GetContainer(r.Context(), c.p, ent, col, con)
	if err != nil {
		return err
	}
	page := containerPage{ContainerInfo: info, MayWrite: u.lib.MayWrite(c.p, info.Collection)}
	page.Tags, page.Images = tagRows(info), imageRows(info)
	for _, img := range info.Images {
		page.Size += img.Size
		page.Downloads += img.Downloads
	}
	sel, tag := selectImage(info, r.URL.Query().Get("image"))
	page.Tag = tag
	if sel != nil {
		if page.Selected, err = u.inspect(r, c, info, *sel); err != nil {
			return err
		}
	}
	return u.render(w, r, c, http.StatusOK, "container", page)
}

// inspect reads what the server read from an image's SIF.
func (u *UI) inspect(r *http.Request, c *call, info library.ContainerInfo, img meta.Image) (*imageDetail, error) {
	d := &imageDetail{Image: img, Badge: badgeOf(img)}
	_, d.Checks, d.CheckedAt = library.Verification(img)
	in, err := u.lib.InspectImage(r.Context(), c.p, info.Path()+":"+library.HashOf(img.Digest), "")
	switch {
	case apperr.Is(err, apperr.Unavailable):
		d.Pending = apperr.MessageOf(err)
		return d, nil
	case err != nil:
		return nil, err
	}
	d.Tags = in.Tags
	var parsed sifinspect.Inspection
	if json.Unmarshal(in.Inspection, &parsed) == nil {
		d.Inspection = &parsed
	}
	for k, v := range in.Labels {
		d.Labels = append(d.Labels, label{k, v})
	}
	sort.Slice(d.Labels, func(i, j int) bool { return d.Labels[i].Key < d.Labels[j].Key })
	return d, nil
}

func tagRows(info library.ContainerInfo) []tagRow {
	byID := map[string]meta.Image{}
	for _, img := range info.Images {
		byID[img.ID] = img
	}
	var rows []tagRow
	for _, t := range info.Tags { // ordered by tag, then arch
		if len(rows) == 0 || rows[len(rows)-1].Tag != t.Tag {
			rows = append(rows, tagRow{Tag: t.Tag})
		}
		last := &rows[len(rows)-1]
		last.Arches = append(last.Arches, tagArch{Arch: t.Arch, Image: byID[t.ImageID]})
	}
	return rows
}

// imageRows lists the images newest first with their tags.
func imageRows(info library.ContainerInfo) []imageRow {
	var rows []imageRow
	for i := len(info.Images) - 1; i >= 0; i-- {
		img := info.Images[i]
		row := imageRow{Image: img, Badge: badgeOf(img)}
		for _, t := range info.Tags {
			if t.ImageID == img.ID {
				row.Tags = append(row.Tags, t.Tag)
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// selectImage picks the image to show (by its sha256.<hex>) and the tag
// pull commands name.
func selectImage(info library.ContainerInfo, want string) (*meta.Image, string) {
	tag := "latest"
	hasLatest := false
	for _, t := range info.Tags {
		hasLatest = hasLatest || t.Tag == "latest"
	}
	if !hasLatest && len(info.Tags) > 0 {
		tag = info.Tags[0].Tag
	}
	var pick *meta.Image
	for i := range info.Images {
		img := &info.Images[i]
		if want != "" && library.HashOf(img.Digest) == want {
			return img, tag
		}
		for _, t := range info.Tags {
			if t.ImageID == img.ID && t.Tag == tag && pick == nil {
				pick = img
			}
		}
	}
	if want == "" && pick == nil && len(info.Images) > 0 {
		pick = &info.Images[len(info.Images)-1]
	}
	if want != "" {
		return nil, tag
	}
	return pick, tag
}
