package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/client"
	"github.com/silo-hpc/silo/internal/client/clienttest"
)

const user, pass = "alice", "s3cret"

func TestVerifyLogin(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name      string
		start     func(testing.TB, string, string, ...clienttest.Option) *clienttest.Server
		checkPath string // what answers a wrong password
		wantReqs  func(host string) []string
	}{
		{"basic", clienttest.NewBasicRegistry, "/v2/", func(string) []string { return []string{"GET /v2/", "GET /v2/"} }},
		// The token request carries the service and no scope.
		{"bearer", clienttest.NewBearerRegistry, "/v2/token", func(h string) []string {
			return []string{"GET /v2/", "GET /v2/token?service=" + url.QueryEscape(h)}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.start(t, user, pass)
			reg := client.Registry{Host: srv.Host}
			if err := reg.VerifyLogin(ctx, user, pass); err != nil {
				t.Fatalf("right password: %v", err)
			}
			if got, want := srv.Requests(), tt.wantReqs(srv.Host); !reflect.DeepEqual(got, want) {
				t.Errorf("requests %q, want %q", got, want)
			}
			err := reg.VerifyLogin(ctx, user, "wrong")
			want := "invalid username or password (401 Unauthorized from http://" + srv.Host + tt.checkPath + ")"
			if err == nil || err.Error() != want || !apperr.Is(err, apperr.Unauthenticated) {
				t.Errorf("wrong password: %v, want %q", err, want)
			}
			if err := (client.Registry{Host: srv.Host, Insecure: true}).VerifyLogin(ctx, user, pass); err != nil {
				t.Errorf("insecure: %v", err)
			}
		})
	}
}

func TestVerifyLoginOverTLS(t *testing.T) {
	ctx := context.Background()
	srv := clienttest.NewBearerRegistry(t, user, pass, clienttest.TLS())
	if err := (client.Registry{Host: srv.Host, HTTP: srv.Client()}).VerifyLogin(ctx, user, pass); err != nil {
		t.Fatalf("trusted TLS: %v", err)
	}
	// Untrusted certificate on a loopback host: the http fallback hits a
	// TLS port and gets a 400, but the certificate error is what is shown.
	err := client.Registry{Host: srv.Host}.VerifyLogin(ctx, user, pass)
	if err == nil || !strings.Contains(err.Error(), "x509: certificate signed by unknown authority") {
		t.Errorf("untrusted TLS: %v", err)
	}
	err = client.Registry{Host: srv.Host, Insecure: true}.VerifyLogin(ctx, user, pass)
	if err == nil || !strings.Contains(err.Error(), "unexpected status 400 Bad Request") {
		t.Errorf("--insecure against TLS: %v", err)
	}
}

func TestVerifyLoginEdgeCases(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantErr string // "" = success
	}{
		{"no auth needed", func(w http.ResponseWriter, r *http.Request) {}, ""},
		{"not a registry", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			"unexpected status 404 Not Found; is this an OCI registry?"},
		{"401 without challenge", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(401) },
			"401 Unauthorized without a WWW-Authenticate challenge"},
		{"unknown scheme", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("WWW-Authenticate", `Negotiate`)
			w.WriteHeader(401)
		}, `unsupported authentication scheme "negotiate"`},
		{"no realm", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("WWW-Authenticate", `Bearer service="x"`)
			w.WriteHeader(401)
		}, "Bearer challenge has no realm"},
		{"token response without token", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/t" {
				w.Write([]byte(`{"expires_in":60}`))
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+r.Host+`/t"`)
			w.WriteHeader(401)
		}, "the token response holds no token"},
		{"access_token only", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/t" {
				w.Write([]byte(`{"access_token":"a"}`))
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+r.Host+`/t"`)
			w.WriteHeader(401)
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			err := client.Registry{Host: strings.TrimPrefix(srv.URL, "http://")}.VerifyLogin(ctx, user, pass)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// A TLS registry must not send the password to a plain-http realm.
func TestPlainHTTPRealmRefusedForTLSRegistry(t *testing.T) {
	var sawToken bool
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			sawToken = true
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+r.Host+`/token",service="x"`)
		w.WriteHeader(401)
	}))
	defer srv.Close()
	err := client.Registry{Host: strings.TrimPrefix(srv.URL, "https://"), HTTP: srv.Client()}.VerifyLogin(context.Background(), user, pass)
	if err == nil || !strings.Contains(err.Error(), "refusing to send credentials to realm") || sawToken {
		t.Errorf("err = %v, token endpoint called: %v", err, sawToken)
	}
}

func TestUnreachableRegistry(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	host := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	err := client.Registry{Host: host}.VerifyLogin(context.Background(), user, pass)
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err = %v", err)
	}
}

func TestFetchTokenWithScope(t *testing.T) {
	ctx := context.Background()
	srv := clienttest.NewBearerRegistry(t, user, pass)
	reg := client.Registry{Host: srv.Host}
	p, err := reg.Ping(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.Base != "http://"+srv.Host || p.Challenge.Scheme != "bearer" || p.Challenge.Params["service"] != srv.Host {
		t.Fatalf("ping = %+v", p)
	}
	tok, err := reg.FetchToken(ctx, p, user, pass, "repository:a/b:pull")
	if err != nil || tok == "" {
		t.Fatalf("FetchToken = %q, %v", tok, err)
	}
	reqs := srv.Requests()
	if last := reqs[len(reqs)-1]; !strings.Contains(last, "scope=repository%3Aa%2Fb%3Apull") {
		t.Errorf("token request %q has no scope", last)
	}
}

// A realm on a loopback, private or link-local address other than the
// registry's own host:port is refused (GGCR's validateRealmURL, §3.8): a
// registry must not make the client send credentials to a local service.
func TestPrivateRealmElsewhereRefused(t *testing.T) {
	var sawToken bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawToken = true
		w.Write([]byte(`{"token":"t"}`))
	}))
	defer other.Close()
	for _, realm := range []string{other.URL + "/token", "http://169.254.169.254/latest", "http://[::1]:1/token"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`",service="x"`)
			w.WriteHeader(401)
		}))
		err := client.Registry{Host: strings.TrimPrefix(srv.URL, "http://"), Insecure: true}.VerifyLogin(context.Background(), user, pass)
		srv.Close()
		if err == nil || !strings.Contains(err.Error(), "refusing to send credentials to realm") || sawToken {
			t.Errorf("realm %s: err = %v, token endpoint called: %v", realm, err, sawToken)
		}
	}
}
