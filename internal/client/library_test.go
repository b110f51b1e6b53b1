package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/client"
	"github.com/silo-hpc/silo/internal/client/clienttest"
)

func TestDiscover(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != client.DiscoveryPath {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"libraryAPI":{"uri":"https://lib.example/","registryUri":"https://oci.example"},
			"keystoreAPI":{"uri":"https://keys.example"},"tokenAPI":{"uri":"https://lib.example"},
			"consentAPI":{"nouri":1},"env":{"x":"y"}}`))
	}))
	defer srv.Close()
	got, err := client.Discover(context.Background(), nil, srv.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	want := client.Services{
		"library":   {Name: "library", URI: "https://lib.example", RegistryURI: "https://oci.example"},
		"keyserver": {Name: "keyserver", URI: "https://keys.example"},
		"token":     {Name: "token", URI: "https://lib.example"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
	if names := strings.Join(got.Names(), ","); names != "keyserver,library,token" {
		t.Errorf("Names = %s", names)
	}
}

func TestDiscoverErrors(t *testing.T) {
	for name, body := range map[string]string{
		"top-level string": `{"libraryAPI":"https://x"}`,
		"not json":         `<html>`,
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }))
			defer srv.Close()
			if _, err := client.Discover(context.Background(), nil, srv.URL); err == nil || !strings.Contains(err.Error(), "invalid service discovery document") {
				t.Errorf("err = %v", err)
			}
		})
	}
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	if _, err := client.Discover(context.Background(), nil, srv.URL); err == nil || !strings.Contains(err.Error(), "404 Not Found") {
		t.Errorf("404: %v", err)
	}
}

func TestLibraryTokenAndStatus(t *testing.T) {
	ctx := context.Background()
	token := clienttest.Token(240)
	srv := clienttest.NewLibrary(t, clienttest.Library{Token: token, Username: "alice", Email: "alice@example.org", Version: "v9"})
	if err := client.VerifyToken(ctx, nil, srv.URL, token); err != nil {
		t.Errorf("valid token: %v", err)
	}
	if err := client.VerifyToken(ctx, nil, srv.URL, clienttest.Token(239)); err == nil || err.Error() != "error response from server: Invalid Token" {
		t.Errorf("invalid token: %v", err)
	}
	if v, err := client.ServiceVersion(ctx, nil, srv.URL); err != nil || v != "v9" {
		t.Errorf("ServiceVersion = %q, %v", v, err)
	}
	if u, err := client.CurrentUser(ctx, nil, srv.URL, token); err != nil || u.Username != "alice" || u.Email != "alice@example.org" {
		t.Errorf("CurrentUser = %+v, %v", u, err)
	}
	if _, err := client.CurrentUser(ctx, nil, srv.URL, "bad"); err == nil {
		t.Error("CurrentUser with a bad token succeeded")
	}
	want := []string{"GET /v1/token-status", "GET /v1/token-status", "GET /version", "GET /v1/rbac/users/current", "GET /v1/rbac/users/current"}
	if got := srv.Requests(); !reflect.DeepEqual(got, want) {
		t.Errorf("requests %q", got)
	}
}

func TestVerifyTokenStatusTexts(t *testing.T) {
	for status, want := range map[int]string{
		404: "error response from server: Invalid Token",
		500: "error response from server: Internal Server Error",
		418: "error response from server: Unknown (418 I'm a teapot)",
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
		err := client.VerifyToken(context.Background(), nil, srv.URL, "t")
		srv.Close()
		if err == nil || err.Error() != want {
			t.Errorf("%d: %v, want %q", status, err, want)
		}
	}
}

func TestServiceVersionErrors(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"status": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) },
		"envelope": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"error":{"code":500,"message":"down"}}`))
		},
		"no data": func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) },
	} {
		srv := httptest.NewServer(h)
		if _, err := client.ServiceVersion(context.Background(), nil, srv.URL); err == nil {
			t.Errorf("%s: no error", name)
		}
		srv.Close()
	}
}

func TestCheckTokenLength(t *testing.T) {
	for n, want := range map[int]string{
		10:   "token is too short (10 characters); Silo tokens are at least 200",
		200:  "",
		4096: "",
		4097: "token is too long (4097 characters); Silo tokens are at most 4096",
	} {
		err := client.CheckTokenLength(clienttest.Token(n))
		if (err == nil) != (want == "") || err != nil && err.Error() != want {
			t.Errorf("%d: %v", n, err)
		}
	}
}
