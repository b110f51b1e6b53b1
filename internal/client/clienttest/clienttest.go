// Package clienttest runs the fake servers the client-side tests talk to:
// a Basic-only OCI registry, a Bearer (token-server) registry, and a
// Library API stub. They answer exactly what the protocol notes in
// docs/protocols/ describe and what the Silo server will expose, so the
// same tests can later run against the in-process Silo as another target.
package clienttest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Server is a running fake with a log of the requests it saw.
type Server struct {
	*httptest.Server
	Host string // host:port, as a docker:// URI names it

	mu   sync.Mutex
	reqs []string
}

// Requests returns "METHOD /path[?query]" for every request so far, in
// order.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reqs...)
}

// Option changes how a fake starts.
type Option func(*settings)

type settings struct{ tls bool }

// TLS serves https with httptest's self-signed certificate (trusted only
// by the Server's own Client()).
func TLS() Option { return func(s *settings) { s.tls = true } }

func start(t testing.TB, h http.Handler, opts []Option) *Server {
	t.Helper()
	var st settings
	for _, o := range opts {
		o(&st)
	}
	s := &Server{}
	logged := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reqs = append(s.reqs, r.Method+" "+r.URL.RequestURI())
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	})
	s.Server = httptest.NewUnstartedServer(logged)
	// Tests provoke TLS handshake failures on purpose; keep them quiet.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	if st.tls {
		s.StartTLS()
	} else {
		s.Start()
	}
	s.Host = strings.TrimPrefix(strings.TrimPrefix(s.URL, "http://"), "https://")
	t.Cleanup(s.Close)
	return s
}

// ociError writes a distribution-spec error body (spec "Error Codes").
func ociError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q,"detail":null}]}`, code, msg)
}

func ok(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
	w.Write([]byte("{}"))
}

// NewBasicRegistry is a registry with Basic auth only, like distribution's
// htpasswd mode (docs/protocols/oci-and-auth.md §3.7): /v2/ answers 401 with a Basic
// challenge without credentials or with wrong ones, 200 with user:pass.
func NewBasicRegistry(t testing.TB, user, pass string, opts ...Option) *Server {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/" {
			ociError(w, http.StatusNotFound, "NOT_FOUND", "not found")
			return
		}
		if u, p, has := r.BasicAuth(); !has || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="silo-test"`)
			ociError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
			return
		}
		ok(w)
	})
	return start(t, h, opts)
}

// NewBearerRegistry is a registry with a token server on the same
// host:port, as Silo serves it: /v2/ answers 401 with
// `Bearer realm="<base>/v2/token",service="<host:port>"`; /v2/token wants
// Basic user:pass and answers 401 to anything else, even without a scope;
// /v2/ accepts the tokens it issued.
func NewBearerRegistry(t testing.TB, user, pass string, opts ...Option) *Server {
	var (
		mu     sync.Mutex
		issued = map[string]bool{}
	)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/token":
			if u, p, has := r.BasicAuth(); !has || u != user || p != pass {
				ociError(w, http.StatusUnauthorized, "UNAUTHORIZED", "invalid username or password")
				return
			}
			tok := randomToken()
			mu.Lock()
			issued[tok] = true
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"token": tok, "access_token": tok, "expires_in": 300})
		case "/v2/":
			tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			mu.Lock()
			valid := issued[tok]
			mu.Unlock()
			if !valid {
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/v2/token",service="%s"`, baseURL(r), r.Host))
				ociError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
				return
			}
			ok(w)
		default:
			ociError(w, http.StatusNotFound, "NOT_FOUND", "not found")
		}
	})
	return start(t, h, opts)
}

// baseURL is the scheme://host:port the request came in on.
func baseURL(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

func randomToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
