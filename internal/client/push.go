package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// Push is one image upload to the Library API, in the order
// scs-library-client and `singularity push` use
// (docs/protocols/library-api.md §5.3): entity, collection and container
// are looked up and created when missing (a 404 is the only answer that
// leads to a create), the image is created by hash, its file uploaded
// unless the server already has that content, then the tags are set. The
// server's push rules decide (frozen tags, auto-created collections).
type Push struct {
	File        string // a SIF
	SHA256      string // hex of the whole file
	Size        int64
	Path        string // entity/collection/container
	Tags        []string
	Arch        string // the SIF's; "" lets the server read it
	Description string
	// Progress wraps the file's reader while it is sent (nil: none).
	Progress func(r io.Reader) io.Reader
}

// PushResult is what the server answered at the end.
type PushResult struct {
	Image    Image
	Uploaded bool // false: the server had the content, nothing was sent
	// Status is the final upload (or tag) response's status line.
	Status string
}

// multipartThreshold is the size above which the client uploads in parts,
// as scs-library-client does (L16).
const multipartThreshold = 64 << 20

// Push uploads p and tags it.
func (l *Library) Push(ctx context.Context, p Push) (PushResult, error) {
	var res PushResult
	containerID, err := l.ensureContainer(ctx, p.Path)
	if err != nil {
		return res, err
	}
	img, err := l.GetImage(ctx, p.Path+":sha256."+p.SHA256, p.Arch)
	if IsNotFound(err) {
		err = l.call(ctx, http.MethodPost, "/v1/images", nil,
			map[string]string{"container": containerID, "hash": "sha256." + p.SHA256, "description": p.Description}, &img)
	}
	if err != nil {
		return res, err
	}
	if !img.Uploaded {
		res.Uploaded = true
		if res.Status, err = l.upload(ctx, img.ID, p); err != nil {
			return res, err
		}
	}
	for _, tag := range p.Tags {
		status, err := l.setTag(ctx, containerID, img.ID, tag, p.Arch)
		if err != nil {
			return res, err
		}
		if !res.Uploaded {
			res.Status = status
		}
	}
	res.Image, err = l.GetImage(ctx, p.Path+":sha256."+p.SHA256, p.Arch)
	return res, err
}

// ensureContainer finds or creates entity, collection and container, and
// returns the container's id.
func (l *Library) ensureContainer(ctx context.Context, path string) (string, error) {
	parts := strings.Split(path, "/")
	if len(parts) != 3 {
		return "", fmt.Errorf("push needs entity/collection/container, not %q", path)
	}
	var obj struct {
		ID string `json:"id"`
	}
	steps := []struct {
		get    string
		create string
		body   func(parent string) map[string]any
	}{
		{"/v1/entities/" + parts[0], "/v1/entities", func(string) map[string]any { return map[string]any{"name": parts[0]} }},
		{"/v1/collections/" + parts[0] + "/" + parts[1], "/v1/collections",
			func(id string) map[string]any { return map[string]any{"name": parts[1], "entity": id} }},
		{"/v1/containers/" + path, "/v1/containers",
			func(id string) map[string]any { return map[string]any{"name": parts[2], "collection": id} }},
	}
	parent := ""
	for _, s := range steps {
		obj.ID = ""
		err := l.call(ctx, http.MethodGet, s.get, nil, nil, &obj)
		if IsNotFound(err) {
			err = l.call(ctx, http.MethodPost, s.create, nil, s.body(parent), &obj)
		}
		if err != nil {
			return "", err
		}
		parent = obj.ID
	}
	return parent, nil
}

// setTag is POST /v2/tags/{containerID} (L24); it answers exactly 200.
func (l *Library) setTag(ctx context.Context, containerID, imageID, tag, arch string) (string, error) {
	resp, err := l.send(ctx, http.MethodPost, "/v2/tags/"+containerID, nil,
		map[string]string{"Tag": tag, "ImageID": imageID, "Arch": arch})
	if err != nil {
		return "", err
	}
	defer drain(resp)
	return resp.Status, checkStatus(resp)
}

// upload sends the file: in parts when it is large and the server offers
// multipart (a 404 means it does not), else in one PUT.
func (l *Library) upload(ctx context.Context, imageID string, p Push) (string, error) {
	if p.Size > multipartThreshold {
		var mp struct {
			UploadID   string `json:"uploadID"`
			TotalParts int    `json:"totalParts"`
			PartSize   int64  `json:"partSize"`
		}
		err := l.call(ctx, http.MethodPost, "/v2/imagefile/"+imageID+"/_multipart", nil, map[string]int64{"filesize": p.Size}, &mp)
		if err == nil {
			return l.uploadParts(ctx, imageID, p, mp.UploadID, mp.PartSize, mp.TotalParts)
		}
		if !IsNotFound(err) {
			return "", err
		}
	}
	return l.uploadSingle(ctx, imageID, p)
}

// uploadSingle is L13-L15: an upload URL, one PUT of the whole file, _complete.
func (l *Library) uploadSingle(ctx context.Context, imageID string, p Push) (string, error) {
	var up struct {
		UploadURL string `json:"uploadURL"`
	}
	err := l.call(ctx, http.MethodPost, "/v2/imagefile/"+imageID, nil,
		map[string]any{"filesize": p.Size, "sha256sum": p.SHA256}, &up)
	if err != nil {
		return "", err
	}
	if _, err := l.putFile(ctx, up.UploadURL, p, 0, p.Size); err != nil {
		return "", err
	}
	return l.complete(ctx, "/v2/imagefile/"+imageID+"/_complete", struct{}{})
}

// uploadParts is L16-L19. Silo appends parts to one session in order
// while it hashes them (docs/library-api.md "Uploads"), so they go one
// after the other; an error aborts the upload on the server.
func (l *Library) uploadParts(ctx context.Context, imageID string, p Push, uploadID string, partSize int64, total int) (string, error) {
	if partSize <= 0 || total != int((p.Size+partSize-1)/partSize) {
		return "", fmt.Errorf("server proposed %d parts of %d bytes for %d bytes", total, partSize, p.Size)
	}
	type completed struct {
		PartNumber int    `json:"partNumber"`
		Token      string `json:"token"`
	}
	var done []completed
	abort := func(err error) (string, error) {
		// Best effort, with a fresh context: ctx may be what ended.
		_ = l.call(context.WithoutCancel(ctx), http.MethodPut, "/v2/imagefile/"+imageID+"/_multipart_abort", nil,
			map[string]string{"uploadID": uploadID}, nil)
		return "", err
	}
	for n := 1; n <= total; n++ {
		off := int64(n-1) * partSize
		size := min(partSize, p.Size-off)
		var part struct {
			PresignedURL string `json:"presignedURL"`
		}
		err := l.call(ctx, http.MethodPut, "/v2/imagefile/"+imageID+"/_multipart", nil,
			map[string]any{"partSize": size, "uploadID": uploadID, "partNumber": n, "sha256sum": ""}, &part)
		if err != nil {
			return abort(err)
		}
		etag, err := l.putFile(ctx, part.PresignedURL, p, off, size)
		if err != nil {
			return abort(err)
		}
		done = append(done, completed{PartNumber: n, Token: etag})
	}
	return l.complete(ctx, "/v2/imagefile/"+imageID+"/_multipart_complete",
		map[string]any{"uploadID": uploadID, "completedParts": done})
}

// putFile PUTs size bytes of the file from off to an upload URL (no
// Authorization: it is a capability, docs/protocols/library-api.md L14)
// and returns the ETag. The server must answer exactly 200.
func (l *Library) putFile(ctx context.Context, uploadURL string, p Push, off, size int64) (string, error) {
	u, err := url.Parse(uploadURL)
	if err != nil || !u.IsAbs() {
		return "", fmt.Errorf("server gave an invalid upload URL")
	}
	f, err := os.Open(p.File)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var body io.Reader = io.NewSectionReader(f, off, size)
	if p.Progress != nil {
		body = p.Progress(body)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, uploadURL, io.NopCloser(body))
	if err != nil {
		return "", err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("User-Agent", UserAgent())
	resp, err := orDefault(l.HTTP).Do(req)
	if err != nil {
		return "", fmt.Errorf("error uploading image: %w", err)
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		if err := checkStatus(resp); err != nil {
			return "", err
		}
		return "", fmt.Errorf("upload answered %s, not 200 OK", resp.Status)
	}
	return resp.Header.Get("ETag"), nil
}

// complete ends an upload and returns its status; the body (quota,
// containerUrl) is optional (L15) and not needed.
func (l *Library) complete(ctx context.Context, path string, body any) (string, error) {
	resp, err := l.send(ctx, http.MethodPut, path, nil, body)
	if err != nil {
		return "", err
	}
	defer drain(resp)
	return resp.Status, checkStatus(resp)
}
