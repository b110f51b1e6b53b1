package libraryapi

import (
	"net/http"
	"strings"

	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/httpx"
)

// download implements L11, GET /v1/imagefile/{ref}?arch= (LA §7): 200 with
// the file and Content-Length, which every client version accepts, and
// Range support through http.ServeContent (sendfile on the filesystem
// store). The one redirect is 303, to an absolute Range-capable URL the
// blob store offers (S3 presigned for a configured public endpoint): every
// client version handles it (3.9 and later download it in ranged parts
// with the image's recorded size), where 302 broke SingularityCE 3.9.
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
	if l, ok := f.(blob.Located); ok {
		http.Redirect(w, r, l.Location(), http.StatusSeeOther)
		return nil
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", `"`+img.Digest+`"`)
	w.Header().Set("Docker-Content-Digest", img.Digest)
	return httpx.ServeContent(w, r, img.UpdatedAt, f)
}

// startsDownload says a request starts a download, for the download
// count: a GET of the whole file or of a range from its first byte
// (scs-library-client's concurrent download asks for several ranges, one
// of them from 0; a resumed download starts later). HEAD does not count.
func startsDownload(r *http.Request) bool {
	rg := r.Header.Get("Range")
	return r.Method == http.MethodGet && (rg == "" || strings.HasPrefix(rg, "bytes=0-"))
}
