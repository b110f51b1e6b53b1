package webui_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/config"
)

func TestLoginLogout(t *testing.T) {
	e := newEnv(t)
	e.password("alice")
	b := e.browser()
	// Pages that need a session send a signed-out browser to the log-in
	// page and back.
	p := b.get("/auth/tokens")
	if p.status != http.StatusSeeOther || p.location != "/auth/login?next=%2Fauth%2Ftokens" {
		t.Fatalf("signed out: %d %q", p.status, p.location)
	}
	want(t, b.get("/auth/login?next=%2Fauth%2Ftokens"), http.StatusOK, `name="password"`, `value="/auth/tokens"`)
	// Wrong password, unknown user: one message.
	for _, who := range []string{"alice", "nobody"} {
		p = b.post("/auth/login", formOf("name", who, "password", "wrong-password", "next", "/auth/tokens"))
		want(t, p, http.StatusUnauthorized, "Wrong user name or password.")
	}
	p = b.post("/auth/login", formOf("name", "alice", "password", "alice-password", "next", "/auth/tokens"))
	if p.status != http.StatusSeeOther || p.location != "/auth/tokens" {
		t.Fatalf("login: %d %q %s", p.status, p.location, p.body)
	}
	ck := sessionCookie(t, p)
	if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure || ck.Path != "/" {
		t.Fatalf("session cookie %+v", ck)
	}
	want(t, b.get("/auth/tokens"), http.StatusOK, "Access tokens", ">alice<", "Log out")
	// The session secret is not an API token.
	if st := e.status("GET", "/v1/token-status", ck.Value); st != http.StatusUnauthorized {
		t.Fatalf("the session secret works as an API token: %d", st)
	}
	p = b.post("/auth/logout", nil)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/?done=logout") {
		t.Fatalf("logout: %d %q", p.status, p.location)
	}
	// The old cookie no longer works, even replayed.
	replay := e.browser()
	replay.c.Jar.SetCookies(mustURL(e.srv.URL), []*http.Cookie{ck})
	if p := replay.get("/auth/tokens"); p.status != http.StatusSeeOther {
		t.Fatalf("replayed cookie after logout: %d", p.status)
	}
}

func sessionCookie(t *testing.T, p page) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if strings.HasSuffix(c.Name, "silo_session") && c.Value != "" {
			return c
		}
	}
	t.Fatalf("no session cookie in %v", p.header)
	return nil
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// status sends a request with a bearer token and returns the status.
func (e *env) status(method, path, token string) int {
	req, _ := http.NewRequest(method, e.srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// A log-in never sends the browser to another site.
func TestLoginNextStaysLocal(t *testing.T) {
	e := newEnv(t)
	e.password("bob")
	for _, next := range []string{"https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)", ""} {
		b := e.browser()
		b.get("/auth/login")
		p := b.post("/auth/login", formOf("name", "bob", "password", "bob-password", "next", next))
		if p.status != http.StatusSeeOther || p.location != "/" {
			t.Errorf("next %q: %d %q", next, p.status, p.location)
		}
	}
}

// Every form is refused without this browser's CSRF token: none, a
// wrong one, another browser's, and any form posted from another site.
func TestCSRF(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.login("alice"), e.login("bob")
	alice.get("/auth/tokens")
	bob.get("/auth/tokens")
	wrong := []byte(alice.csrf)
	wrong[0] ^= 1 // another character of the token's alphabet
	for name, token := range map[string]string{"none": "", "wrong": string(wrong), "another session's": bob.csrf} {
		t.Run(name, func(t *testing.T) {
			p := alice.post("/auth/tokens", formOf("csrf", token, "label", "forged", "days", "30"))
			want(t, p, http.StatusForbidden, "this form has expired or did not come from this site")
		})
	}
	// The right token from another site (a browser says so).
	req, _ := http.NewRequest("POST", e.srv.URL+"/auth/tokens", strings.NewReader(formOf("csrf", alice.csrf, "label", "forged", "days", "30").Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	want(t, alice.do(req), http.StatusForbidden)
	// Nothing was created by any of them.
	alice.get("/auth/tokens")
	if ts, _ := e.srv.Auth.ListTokens(context.Background(), "alice"); len(ts) != 1 {
		t.Fatalf("forged forms created tokens: %d", len(ts))
	}
	// Log-in and log-out forms too: a signed-out browser's log-in form
	// needs the token of its own form cookie.
	anon := e.browser()
	p := anon.post("/auth/login", formOf("name", "alice", "password", "alice-password"))
	want(t, p, http.StatusForbidden)
	p = alice.post("/auth/logout", formOf("csrf", ""))
	want(t, p, http.StatusForbidden)
	want(t, alice.get("/auth/tokens"), http.StatusOK, ">alice<")
	// Every POST route of the interface refuses a form without a token
	// before doing anything.
	for _, path := range []string{"/auth/tokens/x/revoke", "/auth/account/password", "/library/alice/-/collections",
		"/library/alice/c/-/privacy", "/library/alice/c/-/grants", "/library/alice/c/-/delete", "/library/alice/c/k/-/freeze",
		"/library/alice/c/k/-/delete", "/library/alice/c/k/-/delete-tag", "/library/alice/c/k/-/delete-image",
		"/admin/users", "/admin/users/bob", "/admin/settings", "/teams", "/teams/x/members", "/teams/x/delete",
		"/auth/account/keys", "/auth/account/keys/" + strings.Repeat("AB", 20) + "/remove"} {
		if p := alice.post(path, formOf("csrf", "")); p.status != http.StatusForbidden || !strings.Contains(p.body, "did not come from this site") {
			t.Errorf("POST %s without a token: %d", path, p.status)
		}
	}
}

// After the free failures, log-ins wait. The rule (how long, for how
// many failures) is internal/auth's and tested there with a clock; here:
// failed log-ins on the page are counted, and while the count makes a
// user wait the page says so, with 429 and Retry-After, even for the
// right password. The count is raised in the store rather than by more
// requests, so the test does not depend on how fast they run.
func TestLoginThrottled(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.password("carol")
	b := e.browser()
	b.get("/auth/login")
	for range 3 {
		want(t, b.post("/auth/login", formOf("name", "carol", "password", "guess")), http.StatusUnauthorized)
	}
	recs, err := e.srv.Meta.GetLoginFailures(ctx, "user:carol")
	if err != nil || len(recs) != 1 || recs[0].Count != 3 {
		t.Fatalf("failures recorded: %+v %v", recs, err)
	}
	for range 10 {
		if _, err := e.srv.Meta.AddLoginFailure(ctx, "user:carol", time.Now(), time.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	p := b.post("/auth/login", formOf("name", "carol", "password", "carol-password"))
	want(t, p, http.StatusTooManyRequests, "too many failed log-ins: try again in")
	if ra := p.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After %q", ra)
	}
	// Her API token is not throttled, nor is another user.
	if st := e.status("GET", "/v1/token-status", e.tokens["carol"]); st != http.StatusOK {
		t.Fatalf("token while throttled: %d", st)
	}
	e.login("bob")
}

// A session that expired (idle, or at its absolute end) sends the
// browser to the log-in page; a disabled account's session ends at once.
func TestSessionExpiry(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := e.login("alice")
	ck := b.cookie("silo_session")
	want(t, b.get("/auth/tokens"), http.StatusOK)
	ss, _, err := e.srv.Meta.GetSessionByHash(ctx, auth.HashToken(ck.Value))
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Minute)
	if err := e.srv.Meta.TouchSession(ctx, ss.ID, past.Add(-time.Hour), past); err != nil {
		t.Fatal(err)
	}
	p := b.get("/auth/tokens")
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/auth/login") {
		t.Fatalf("expired session: %d %q", p.status, p.location)
	}
	if c := sessionCookie0(p); c == nil || c.MaxAge >= 0 {
		t.Fatalf("the expired session's cookie was not cleared: %v", p.header["Set-Cookie"])
	}
	bob := e.login("bob")
	root := e.login("root")
	root.get("/admin/users")
	want(t, root.post("/admin/users/bob", formOf("disabled", "true")), http.StatusSeeOther)
	if p := bob.get("/auth/tokens"); p.status != http.StatusSeeOther {
		t.Fatalf("disabled account's session: %d", p.status)
	}
}

// cookie returns the browser's cookie of that name.
func (b *browser) cookie(name string) *http.Cookie {
	for _, c := range b.c.Jar.Cookies(mustURL(b.e.srv.URL)) {
		if c.Name == name {
			return c
		}
	}
	b.e.t.Fatalf("no cookie %s", name)
	return nil
}

func sessionCookie0(p page) *http.Cookie {
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if strings.HasSuffix(c.Name, "silo_session") {
			return c
		}
	}
	return nil
}

// Behind TLS (the public URL is https) cookies are Secure and carry the
// __Host- prefix; a plain-named cookie is then ignored.
func TestSecureCookies(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.PublicURL = "https://silo.example.org" })
	e.password("alice")
	b := e.browser()
	p := b.get("/auth/login")
	var form *http.Cookie
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		form = c
	}
	if form == nil || form.Name != "__Host-silo_form" || !form.Secure || !form.HttpOnly {
		t.Fatalf("form cookie %+v", form)
	}
	// The jar would not send Secure cookies over http: send them by hand.
	req, _ := http.NewRequest("POST", e.srv.URL+"/auth/login", strings.NewReader(formOf("csrf", b.csrf, "name", "alice", "password", "alice-password").Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: form.Name, Value: form.Value})
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var sess *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "__Host-silo_session" {
			sess = c
		}
	}
	if res.StatusCode != http.StatusSeeOther || sess == nil || !sess.Secure || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode {
		t.Fatalf("login over https: %d %v", res.StatusCode, res.Header["Set-Cookie"])
	}
	for name, wantStatus := range map[string]int{"__Host-silo_session": http.StatusOK, "silo_session": http.StatusSeeOther} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/auth/tokens", nil)
		req.AddCookie(&http.Cookie{Name: name, Value: sess.Value})
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != wantStatus {
			t.Errorf("cookie %s: %d, want %d", name, res.StatusCode, wantStatus)
		}
	}
}

// Pages carry headers that keep scripts, frames and caches out.
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/", "/auth/login", "/nope", "/api"} {
		p := e.browser().get(path)
		h := p.header
		if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || h.Get("X-Frame-Options") != "DENY" ||
			h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", path, h)
		}
		if strings.Contains(p.body, "<script") {
			t.Errorf("%s has a script", path)
		}
	}
}
