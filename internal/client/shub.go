package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Shub reads the sregistry/Singularity Hub API that `singularity pull
// shub://` uses (docs/protocols/sregistry-api.md §4, library-api.md §9):
// a manifest naming the image's download URL, then the download. The
// requests carry no credentials, as Singularity's do.
type Shub struct {
	Base string // scheme://host
	HTTP *http.Client
}

// ShubManifest is GET /api/container/{collection}/{name}:{tag}'s answer.
type ShubManifest struct {
	Image      string          `json:"image"` // absolute download URL
	Name       string          `json:"name"`
	Tag        string          `json:"tag"`
	Collection string          `json:"collection"`
	Version    json.RawMessage `json:"version"` // a string, or null
	Commit     string          `json:"commit"`
}

// IsSHA256Hex reports whether s is 64 lowercase hex digits (checked by
// hand: a compiled {64} repetition would cost every command's start).
func IsSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// SHA256 is the image's sha256 hex when the manifest gives one: the
// version "sha256.<hex>" of sregistry, or a 64-hex commit (which
// sregistry-api.md §4 asks servers to send); "" otherwise.
func (m ShubManifest) SHA256() string {
	var v string
	_ = json.Unmarshal(m.Version, &v)
	if h, ok := strings.CutPrefix(v, "sha256."); ok && IsSHA256Hex(h) {
		return h
	}
	if IsSHA256Hex(m.Commit) {
		return m.Commit
	}
	return ""
}

// Manifest fetches the manifest of collection/name:tag (and @version).
func (s Shub) Manifest(ctx context.Context, collection, name, tag, version string) (ShubManifest, error) {
	var m ShubManifest
	u := s.Base + "/api/container/" + collection + "/" + name + ":" + tag
	if version != "" {
		u += "@" + version
	}
	req, err := newRequest(ctx, http.MethodGet, u)
	if err != nil {
		return m, err
	}
	resp, err := orDefault(s.HTTP).Do(req)
	if err != nil {
		return m, fmt.Errorf("no response received from the registry: %w", err)
	}
	defer drain(resp)
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return m, &APIError{Status: http.StatusNotFound, Message: "the requested manifest was not found: " + collection + "/" + name + ":" + tag}
	default:
		// sregistry answers {"detail": "..."}; it gives a missing and a
		// private image the same 403 (only a signed request sees private
		// ones, and shub:// never signs).
		var d struct {
			Detail string `json:"detail"`
		}
		msg := fmt.Sprintf("GET %s: %s", u, resp.Status)
		if decodeJSON(resp.Body, &d) == nil && d.Detail != "" {
			msg += ": " + d.Detail
		}
		return m, &APIError{Status: resp.StatusCode, Message: msg}
	}
	if err := decodeJSON(resp.Body, &m); err != nil {
		return m, fmt.Errorf("invalid manifest at %s: %w", u, err)
	}
	if iu, err := url.Parse(m.Image); err != nil || !iu.IsAbs() {
		return m, errors.New("the manifest gives no absolute image URL")
	}
	return m, nil
}

// Size asks HEAD <image URL> for the image's size, -1 when the server
// does not say or offers no ranges (the download then streams).
func (s Shub) Size(ctx context.Context, imageURL string) int64 {
	req, err := newRequest(ctx, http.MethodHead, imageURL)
	if err != nil {
		return -1
	}
	resp, err := orDefault(s.HTTP).Do(req)
	if err != nil {
		return -1
	}
	drain(resp)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Accept-Ranges") != "bytes" {
		return -1
	}
	return resp.ContentLength
}

// Do sends a download request with the client's User-Agent.
func (s Shub) Do(req *http.Request) (*http.Response, error) {
	req.Header.Set("User-Agent", UserAgent())
	return orDefault(s.HTTP).Do(req)
}
