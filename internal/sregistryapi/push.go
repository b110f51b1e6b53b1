package sregistryapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/sregistry"
)

// Bounds on what a push sends besides the file.
const (
	maxPushBody = 64 << 10 // the first step's JSON
	maxField    = 16 << 10 // one multipart field (SREGISTRY_EVENT is the longest)
	maxFields   = 16       // fields before file1
)

// startPush implements push step 1, POST /api/upload/chunked_upload
// (SR §3.2): {"collection", "name", "tag"} in, exactly 200 with
// {"cid": N} out (a 201 makes the client exit).
func (a *API) startPush(w http.ResponseWriter, r *http.Request, p params) error {
	var body struct {
		Collection, Name, Tag string
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxPushBody)).Decode(&body); err != nil {
		return apperr.Wrap(apperr.Invalid, err, "invalid push request: want JSON {\"collection\", \"name\", \"tag\"}")
	}
	cid, err := a.svc.StartPush(r.Context(), sregistry.PushRequest{
		Name:          sregistry.Name{Entity: p.entity, Collection: body.Collection, Container: body.Name, Tag: body.Tag},
		Authorization: r.Header.Get("Authorization")})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int64{"cid": cid})
	return nil
}

// upload implements push step 2, the multipart POST /upload (SR §3.2):
// the fields SREGISTRY_EVENT, name, collection (the cid) and tag, then
// file1, which streams to the service as it arrives (it may be many
// gigabytes). The answer is JSON with "message".
func (a *API) upload(w http.ResponseWriter, r *http.Request, p params) error {
	mr, err := r.MultipartReader()
	if err != nil {
		return apperr.Wrap(apperr.Invalid, err, "invalid upload: want multipart/form-data")
	}
	fields := map[string]string{}
	var file *multipart.Part
	for file == nil {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return apperr.New(apperr.Invalid, "invalid upload: no file1 part")
		}
		if err != nil {
			return apperr.Wrap(apperr.Invalid, err, "invalid upload: reading the multipart body failed")
		}
		if part.FormName() == "file1" {
			file = part
			break
		}
		v, err := io.ReadAll(io.LimitReader(part, maxField+1))
		if err != nil || len(v) > maxField || len(fields) == maxFields {
			return apperr.New(apperr.Invalid, "invalid upload: field %q is cut or too long, or there are too many fields", part.FormName())
		}
		fields[part.FormName()] = string(v)
	}
	authz := r.Header.Get("Authorization")
	if authz == "" {
		authz = fields["SREGISTRY_EVENT"]
	}
	err = a.svc.Upload(r.Context(), sregistry.UploadRequest{Authorization: authz, Permit: fields["collection"],
		Name: fields["name"], Tag: fields["tag"], File: file})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": "Upload Complete"})
	return nil
}
