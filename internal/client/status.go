package client

import (
	"context"
	"fmt"
	"net/http"
)

// ServiceVersion asks GET <uri>/version ({"data":{"version":...}}) for
// `remote status` (docs/protocols/library-api.md §3.2, §6.9).
func ServiceVersion(ctx context.Context, hc *http.Client, uri string) (string, error) {
	req, err := newRequest(ctx, http.MethodGet, uri+"/version")
	if err != nil {
		return "", err
	}
	resp, err := orDefault(hc).Do(req)
	if err != nil {
		return "", fmt.Errorf("error making request to server: %w", err)
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("error response from server: %d", resp.StatusCode)
	}
	var v struct {
		Version string `json:"version"`
	}
	if err := jsonData(resp, &v); err != nil {
		return "", fmt.Errorf("GET %s/version: %w", uri, err)
	}
	return v.Version, nil
}

// User is who /v1/rbac/users/current says the token belongs to.
type User struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	RealName string `json:"realname"`
}

// CurrentUser asks GET <libraryURI>/v1/rbac/users/current (no envelope,
// docs/protocols/library-api.md §3.3). Servers may not implement it; callers ignore errors.
func CurrentUser(ctx context.Context, hc *http.Client, libraryURI, token string) (*User, error) {
	req, err := newRequest(ctx, http.MethodGet, libraryURI+"/v1/rbac/users/current")
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := orDefault(hc).Do(req)
	if err != nil {
		return nil, err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/v1/rbac/users/current: %s", libraryURI, resp.Status)
	}
	var u User
	if err := decodeJSON(resp.Body, &u); err != nil {
		return nil, err
	}
	return &u, nil
}
