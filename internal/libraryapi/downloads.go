package libraryapi

import (
	"net/http"
	"strings"
)

// download implements L11, GET /v1/imagefile/{ref}?arch= (LA §7): 200 with
// the file and Content-Length, which every client version accepts, and
// Range support through http.ServeContent (sendfile on the filesystem
// store). No redirect: 303 needs client-side size lookups and 302 broke
// SingularityCE 3.9.
func (a *API) download(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	f, img, err := a.lib.OpenDownload(r.Context(), p, r.PathValue("ref"), archParam(r), startsDownload(r))
	if err != nil {
		return err
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", `"`+img.Digest+`"`)
	w.Header().Set("Docker-Content-Digest", img.Digest)
	http.ServeContent(w, r, "", img.UpdatedAt, f)
	return nil
}

// startsDownload says a request starts a download, for the download
// count: a GET of the whole file or of a range from its first byte
// (scs-library-client's concurrent download asks for several ranges, one
// of them from 0; a resumed download starts later). HEAD does not count.
func startsDownload(r *http.Request) bool {
	rg := r.Header.Get("Range")
	return r.Method == http.MethodGet && (rg == "" || strings.HasPrefix(rg, "bytes=0-"))
}
