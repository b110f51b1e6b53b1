package libraryapi

import (
	"net/http"
	"strconv"

	"github.com/silo-hpc/silo/internal/apperr"

	"github.com/silo-hpc/silo/internal/library"
)

// UploadPath is where capability upload URLs live; they need no token,
// and the server keeps their ids out of its logs.
const UploadPath = "/v2/_upload/"

// completionJSON is UploadImageComplete (LA §6.8): `singularity push`
// prints the quota (0 total = unlimited) and the container's web URL.
func completionJSON(c library.Completion) map[string]any {
	return map[string]any{
		"quota":        map[string]int64{"quotaTotal": c.QuotaTotal, "quotaUsage": c.QuotaUsage},
		"containerUrl": "library/" + c.Ref.Path(),
	}
}

// uploadV1 implements L12, POST /v1/imagefile/{id}: the raw file, for
// clients that see no v2 API; exactly 200 (LA §4).
func (a *API) uploadV1(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	c, err := a.lib.UploadImageFile(r.Context(), p, r.PathValue("id"), r.Body, r.ContentLength)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, completionJSON(c))
	return nil
}

// startUpload implements L13, POST /v2/imagefile/{id} (LA §6.8): it
// returns an absolute capability URL for the single-part PUT.
func (a *API) startUpload(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	var body struct {
		Filesize  int64  `json:"filesize"`
		SHA256Sum string `json:"sha256sum"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	id, err := a.lib.StartUpload(r.Context(), p, r.PathValue("id"), body.Filesize, body.SHA256Sum)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, map[string]string{"uploadURL": a.baseURL(r) + UploadPath + id})
	return nil
}

// writeUpload implements L14, the PUT to a single-part upload URL: no
// Authorization (the URL is the capability), exactly 200 (LA §11.3).
func (a *API) writeUpload(w http.ResponseWriter, r *http.Request) error {
	if err := a.lib.WriteUpload(r.Context(), r.PathValue("id"), r.Body, r.ContentLength); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// completeUpload implements L15, PUT /v2/imagefile/{id}/_complete: size
// and sha256 are verified before the image becomes visible.
func (a *API) completeUpload(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	c, err := a.lib.CompleteUpload(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, completionJSON(c))
	return nil
}

// startMultipart implements L16, POST /v2/imagefile/{id}/_multipart:
// totalParts = ceil(filesize/partSize); s3compliant "false" spares the
// client per-part hashing (LA §11.3).
func (a *API) startMultipart(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	var body struct {
		Filesize int64 `json:"filesize"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	m, err := a.lib.StartMultipart(r.Context(), p, r.PathValue("id"), body.Filesize)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, map[string]any{
		"uploadID": m.UploadID, "totalParts": m.TotalParts, "partSize": m.PartSize,
		"options": map[string]string{"s3compliant": "false"},
	})
	return nil
}

// preparePart implements L17, PUT /v2/imagefile/{id}/_multipart: a JSON
// body with the part's absolute URL.
func (a *API) preparePart(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	var body struct {
		PartSize   int64  `json:"partSize"`
		UploadID   string `json:"uploadID"`
		PartNumber int    `json:"partNumber"`
		SHA256Sum  string `json:"sha256sum"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	req := library.PartRequest{UploadID: body.UploadID, PartNumber: body.PartNumber, PartSize: body.PartSize, SHA256: body.SHA256Sum}
	if err := a.lib.PreparePart(r.Context(), p, r.PathValue("id"), req); err != nil {
		return err
	}
	u := a.baseURL(r) + UploadPath + body.UploadID + "/" + strconv.Itoa(body.PartNumber)
	writeData(w, http.StatusOK, map[string]string{"presignedURL": u})
	return nil
}

// writePart implements L18, the PUT to a part URL: no Authorization,
// exactly 200 with the ETag the completion must list.
func (a *API) writePart(w http.ResponseWriter, r *http.Request) error {
	part, err := strconv.Atoi(r.PathValue("part"))
	if err != nil {
		return apperr.New(apperr.NotFound, "no such upload part")
	}
	etag, err := a.lib.WritePart(r.Context(), r.PathValue("id"), part, r.Body, r.ContentLength)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag)
	w.WriteHeader(http.StatusOK)
	return nil
}

// completeMultipart implements L19, PUT .../_multipart_complete: always a
// JSON body (an empty one fails the client, LA §11.3).
func (a *API) completeMultipart(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	var body struct {
		UploadID       string `json:"uploadID"`
		CompletedParts []struct {
			PartNumber int    `json:"partNumber"`
			Token      string `json:"token"`
		} `json:"completedParts"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	parts := make([]library.CompletedPart, len(body.CompletedParts))
	for i, cp := range body.CompletedParts {
		parts[i] = library.CompletedPart{PartNumber: cp.PartNumber, Token: cp.Token}
	}
	c, err := a.lib.CompleteMultipart(r.Context(), p, r.PathValue("id"), body.UploadID, parts)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, completionJSON(c))
	return nil
}

// abortMultipart implements L20, PUT .../_multipart_abort.
func (a *API) abortMultipart(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	var body struct {
		UploadID string `json:"uploadID"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if err := a.lib.AbortMultipart(r.Context(), p, r.PathValue("id"), body.UploadID); err != nil {
		return err
	}
	writeData(w, http.StatusOK, struct{}{})
	return nil
}
