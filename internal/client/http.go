// Package client is Silo's HTTP client side: it talks to OCI registries
// (ping, login verification) and to Library API servers (discovery, token
// status, service versions). It holds no files; credstore does.
package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"

	"github.com/silo-hpc/silo/internal/version"
)

// UserAgent identifies Silo to servers, in the shape Singularity uses
// ("Singularity-Ce/3.9.7 (Linux amd64) Go/1.17.8").
func UserAgent() string {
	return fmt.Sprintf("Silo/%s (%s %s) Go/%s", version.Version, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// orDefault lets callers pass nil for http.DefaultClient.
func orDefault(hc *http.Client) *http.Client {
	if hc == nil {
		return http.DefaultClient
	}
	return hc
}

func newRequest(ctx context.Context, method, url string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", UserAgent())
	return req, nil
}

// maxBody bounds what is read from small JSON answers, so a misbehaving
// server cannot make the client buffer an image.
const maxBody = 1 << 20

func decodeJSON(r io.Reader, v any) error {
	return json.NewDecoder(io.LimitReader(r, maxBody)).Decode(v)
}

// drain lets the connection be reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
}
