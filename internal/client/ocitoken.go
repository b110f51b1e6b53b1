package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// FetchToken gets a bearer token from the realm of p's Bearer challenge
// (distribution token spec, GET form; docs/protocols/oci-and-auth.md §3.2) with Basic
// credentials. With no scopes it is the login check: Silo's /v2/token, like
// Singularity's e2e token server, answers 401 to bad credentials even then.
func (r Registry) FetchToken(ctx context.Context, p *PingResult, user, pass string, scopes ...string) (string, error) {
	realm, err := r.realmURL(p)
	if err != nil {
		return "", err
	}
	q := realm.Query()
	if s := p.Challenge.Params["service"]; s != "" {
		q.Set("service", s)
	}
	for _, s := range scopes {
		q.Add("scope", s)
	}
	realm.RawQuery = q.Encode()
	req, err := newRequest(ctx, http.MethodGet, realm.String())
	if err != nil {
		return "", err
	}
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := orDefault(r.HTTP).Do(req)
	if err != nil {
		return "", err
	}
	defer drain(resp)
	shown := realm.Scheme + "://" + realm.Host + realm.Path
	if err := credentialStatus(resp, shown); err != nil {
		return "", err
	}
	var body struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := decodeJSON(resp.Body, &body); err != nil {
		return "", fmt.Errorf("GET %s: invalid token response: %w", shown, err)
	}
	if body.Token != "" {
		return body.Token, nil
	}
	if body.AccessToken != "" {
		return body.AccessToken, nil
	}
	return "", fmt.Errorf("GET %s: the token response holds no token", shown)
}

// realmURL checks where credentials are about to be sent: the realm must
// be https unless the registry itself was reached over http (the rule
// go-containerregistry adopted in v0.21.4), so a plain-http realm cannot
// harvest the password of a TLS registry.
func (r Registry) realmURL(p *PingResult) (*url.URL, error) {
	raw := p.Challenge.Params["realm"]
	if raw == "" {
		return nil, errors.New("the registry's Bearer challenge has no realm")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("the registry's Bearer realm %q is not a URL", raw)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && strings.HasPrefix(p.Base, "http://"):
	default:
		return nil, fmt.Errorf("refusing to send credentials to realm %q: the registry uses https", raw)
	}
	// As GGCR's validateRealmURL: a loopback, private or link-local IP
	// literal is only trusted when it is the registry itself.
	if ip := net.ParseIP(u.Hostname()); ip != nil &&
		(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified()) &&
		!sameHostPort(u, p.Base) {
		return nil, fmt.Errorf("refusing to send credentials to realm %q: a local address that is not the registry", raw)
	}
	return u, nil
}

// sameHostPort compares realm's host:port with that of base, the URL the
// registry answered on, filling in the schemes' default ports.
func sameHostPort(realm *url.URL, base string) bool {
	b, err := url.Parse(base)
	if err != nil {
		return false
	}
	return hostPort(realm) == hostPort(b)
}

func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}
