package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Library talks to one Library API service (the libraryAPI URI of a
// remote's discovery document; docs/protocols/library-api.md §4). It
// speaks the API directly rather than through scs-library-client, whose
// downloads are concurrent only behind a 303 redirect that Silo does not
// send and are neither resumable nor verified.
type Library struct {
	URL   string // base, no trailing slash
	Token string // "" = anonymous
	HTTP  *http.Client
}

// APIError is an answer the Library API gave with an error status; its
// message is the server's (the {"error":{"code","message"}} envelope,
// docs/protocols/library-api.md §1.2).
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return e.Message }

// IsNotFound reports whether err is a 404 from the server.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// Do sends req with the library's token and User-Agent: it is the Doer
// downloads use.
func (l *Library) Do(req *http.Request) (*http.Response, error) {
	req.Header.Set("User-Agent", UserAgent())
	if l.Token != "" && sameOrigin(req.URL, l.URL) {
		req.Header.Set("Authorization", "Bearer "+l.Token)
	}
	return orDefault(l.HTTP).Do(req)
}

// sameOrigin keeps the token to the library's own scheme and host (what
// scs-library-client's samehost does for download redirects).
func sameOrigin(u *url.URL, base string) bool {
	b, err := url.Parse(base)
	return err == nil && b.Scheme == u.Scheme && b.Host == u.Host
}

// call sends a JSON request to path (query appended) and decodes the
// envelope's data into out (nil: ignored).
func (l *Library) call(ctx context.Context, method, path string, q url.Values, in, out any) error {
	resp, err := l.send(ctx, method, path, q, in)
	if err != nil {
		return err
	}
	defer drain(resp)
	if err := checkStatus(resp); err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := jsonData(resp, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

func (l *Library) send(ctx context.Context, method, path string, q url.Values, in any) (*http.Response, error) {
	u := l.URL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	resp, err := l.Do(req)
	if err != nil {
		return nil, fmt.Errorf("error making request to server: %w", err)
	}
	return resp, nil
}

// checkStatus turns an error status into an APIError with the server's
// message, or the status text when the body has none.
func checkStatus(resp *http.Response) error {
	switch resp.StatusCode {
	case http.StatusOK, http.StatusCreated, http.StatusNoContent, http.StatusPartialContent:
		return nil
	}
	var env struct {
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	msg := ""
	if decodeJSON(resp.Body, &env) == nil && env.Error != nil {
		msg = env.Error.Message
	}
	if msg == "" {
		msg = fmt.Sprintf("%s %s: %s", resp.Request.Method, redactedURL(resp.Request.URL), resp.Status)
	}
	return &APIError{Status: resp.StatusCode, Message: msg}
}

// redactedURL drops the query, where upload capabilities could sit.
func redactedURL(u *url.URL) string {
	c := *u
	c.RawQuery, c.User = "", nil
	return c.String()
}

// Image is the Library API's image object (docs/protocols/library-api.md §6.5).
type Image struct {
	ID           string   `json:"id"`
	Hash         string   `json:"hash"` // "sha256.<hex>"
	Description  string   `json:"description"`
	Container    string   `json:"container"`
	Size         int64    `json:"size"`
	Uploaded     bool     `json:"uploaded"`
	Arch         string   `json:"arch"`
	Signed       bool     `json:"signed"`
	Encrypted    bool     `json:"encrypted"`
	Fingerprints []string `json:"fingerprints"`
	// Verified and Signatures are Silo's check of the signatures against
	// the keys its keyserver holds (docs/keyserver.md); other servers
	// leave them out.
	Verified       bool             `json:"verified"`
	Signatures     []SignatureCheck `json:"signatures"`
	EntityName     string           `json:"entityName"`
	CollectionName string           `json:"collectionName"`
	ContainerName  string           `json:"containerName"`
	Tags           []string         `json:"tags"`
	CreatedAt      time.Time        `json:"createdAt"`
	UpdatedAt      time.Time        `json:"updatedAt"`
}

// SHA256 is the image's hash without its "sha256." prefix.
func (i Image) SHA256() string { return strings.TrimPrefix(i.Hash, "sha256.") }

// Path is entity/collection/container.
func (i Image) Path() string { return i.EntityName + "/" + i.CollectionName + "/" + i.ContainerName }

// GetImage is GET /v1/images/{ref}?arch= (L8); ref is
// path:tag or path:sha256.<hex>.
func (l *Library) GetImage(ctx context.Context, ref, arch string) (Image, error) {
	var img Image
	err := l.call(ctx, http.MethodGet, "/v1/images/"+ref, url.Values{"arch": {arch}}, nil, &img)
	return img, err
}

// DeleteImage is DELETE /v1/images/{ref}?arch= (L10).
func (l *Library) DeleteImage(ctx context.Context, ref, arch string) error {
	return l.call(ctx, http.MethodDelete, "/v1/images/"+ref, url.Values{"arch": {arch}}, nil, nil)
}

// ImageFileURL is where GET /v1/imagefile serves ref (L11).
func (l *Library) ImageFileURL(ref, arch string) string {
	return l.URL + "/v1/imagefile/" + ref + "?" + url.Values{"arch": {arch}}.Encode()
}
