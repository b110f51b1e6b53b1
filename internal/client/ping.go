package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/silo-hpc/silo/internal/apperr"
)

// Registry addresses one OCI registry.
type Registry struct {
	Host     string       // host[:port]
	Insecure bool         // plain http only: the user asked for it
	HTTP     *http.Client // nil means http.DefaultClient
}

// PingResult is what GET /v2/ answered.
type PingResult struct {
	Base      string    // "https://host[:port]" or "http://…": the scheme that answered
	Challenge Challenge // zero when /v2/ answered 200 without credentials
}

// Ping sends GET /v2/ (OCI distribution-spec "end-1"). It uses https,
// plain http when Insecure, and for loopback hosts tries https and falls
// back to http as go-containerregistry does (pkg/name Registry.Scheme,
// transport/ping.go), so a registry on localhost works without flags.
func (r Registry) Ping(ctx context.Context) (*PingResult, error) {
	if r.Insecure {
		return r.ping(ctx, "http")
	}
	res, err := r.ping(ctx, "https")
	var te *transportError
	if err == nil || !isLoopback(r.Host) || !errors.As(err, &te) {
		return res, err
	}
	res, httpErr := r.ping(ctx, "http")
	if httpErr == nil {
		return res, nil
	}
	// Report the failure that explains the problem: the http one when the
	// server speaks plain http, else the https one (e.g. a certificate
	// error, rather than the 400 a TLS port gives to plain http).
	if speaksPlainHTTP(err) {
		return nil, httpErr
	}
	return nil, err
}

func (r Registry) ping(ctx context.Context, scheme string) (*PingResult, error) {
	base := scheme + "://" + r.Host
	req, err := newRequest(ctx, http.MethodGet, base+"/v2/")
	if err != nil {
		return nil, err
	}
	resp, err := orDefault(r.HTTP).Do(req)
	if err != nil {
		return nil, &transportError{err}
	}
	defer drain(resp)
	switch resp.StatusCode {
	case http.StatusOK:
		return &PingResult{Base: base}, nil
	case http.StatusUnauthorized:
		c, ok := pick(parseChallenges(resp.Header))
		if !ok {
			return nil, fmt.Errorf("GET %s/v2/: 401 Unauthorized without a WWW-Authenticate challenge", base)
		}
		return &PingResult{Base: base, Challenge: c}, nil
	}
	return nil, fmt.Errorf("GET %s/v2/: unexpected status %s; is this an OCI registry?", base, resp.Status)
}

// transportError marks a failure to get any HTTP answer (refused, TLS,
// timeout): only those justify trying plain http.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// speaksPlainHTTP recognises net/http's error for a TLS request answered
// in plain text; net/http does not export it as a type.
func speaksPlainHTTP(err error) bool {
	return strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// VerifyLogin checks user/pass against the registry before anything is
// stored (docs/protocols/oci-and-auth.md §4.2, plus the Basic check Singularity lacks):
//   - /v2/ answers 200 without credentials: nothing to check;
//   - Basic challenge: /v2/ with the credentials must answer 200;
//   - Bearer challenge: the realm, with the credentials and no scope, must
//     answer 200 with a token.
//
// Wrong credentials give an apperr.Unauthenticated error.
func (r Registry) VerifyLogin(ctx context.Context, user, pass string) error {
	p, err := r.Ping(ctx)
	if err != nil {
		return err
	}
	switch p.Challenge.Scheme {
	case "":
		return nil
	case "basic":
		return r.checkBasic(ctx, p.Base, user, pass)
	case "bearer":
		_, err := r.FetchToken(ctx, p, user, pass)
		return err
	}
	return fmt.Errorf("registry asks for unsupported authentication scheme %q", p.Challenge.Scheme)
}

func (r Registry) checkBasic(ctx context.Context, base, user, pass string) error {
	req, err := newRequest(ctx, http.MethodGet, base+"/v2/")
	if err != nil {
		return err
	}
	req.SetBasicAuth(user, pass)
	resp, err := orDefault(r.HTTP).Do(req)
	if err != nil {
		return err
	}
	defer drain(resp)
	return credentialStatus(resp, base+"/v2/")
}

// credentialStatus turns the answer to an authenticated request into the
// login verdict.
func credentialStatus(resp *http.Response, url string) error {
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusUnauthorized, http.StatusForbidden:
		return apperr.New(apperr.Unauthenticated, "invalid username or password (%s from %s)", resp.Status, url)
	}
	return fmt.Errorf("GET %s: unexpected status %s", url, resp.Status)
}
