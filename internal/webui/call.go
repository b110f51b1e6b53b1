package webui

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/httpx"
)

// call is one request as the pages see it: who asks, and the token its
// forms must carry.
type call struct {
	p      auth.Principal
	secret string // the session cookie's secret; "" when signed out
	csrf   string // the CSRF token of this browser's forms
	secure bool   // served over https: cookies are Secure
	base   string // the external base URL
}

// handler is a page or form handler; errors go to fail.
type handler func(w http.ResponseWriter, r *http.Request, c *call) error

// maxForm bounds form bodies: every form here is a few fields.
const maxForm = 64 << 10

// handle registers h: security headers, the session, the CSRF check of
// every form, then h; errors are rendered by fail, the one place they
// become pages.
func (u *UI) handle(pattern string, h handler) {
	u.handleForm(pattern, maxForm, h)
}

// handleForm is handle for a form whose body may hold up to limit bytes
// (a pasted OpenPGP key).
func (u *UI) handleForm(pattern string, limit int64, h handler) {
	u.mux.Handle(pattern, u.page(h, limit))
}

// page wraps h; a POST to it is a form of at most formLimit bytes to
// check (0: none is; the fallback for unknown paths answers 404 to any
// method).
func (u *UI) page(h handler, formLimit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header())
		c, err := u.begin(w, r)
		if err == nil && formLimit > 0 && r.Method == http.MethodPost {
			err = u.checkForm(w, r, c, formLimit)
		}
		if err == nil {
			err = h(w, r, c)
		}
		if err != nil {
			u.fail(w, r, c, err)
		}
	})
}

// securityHeaders: no scripts at all, nothing framed, nothing sniffed,
// no referrer to other sites, nothing stored by shared caches.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

var (
	errBadForm = apperr.New(apperr.Denied, "this form has expired or did not come from this site: go back, reload the page and try again")
	errNoPage  = apperr.New(apperr.NotFound, "no such page")
)

// begin reads the session cookie: who asks, and the CSRF token of this
// browser's forms.
func (u *UI) begin(w http.ResponseWriter, r *http.Request) (*call, error) {
	base := httpx.BaseURL(r, u.publicURL)
	c := &call{secure: strings.HasPrefix(base, "https://"), base: base}
	if ck, err := r.Cookie(c.cookieName(sessionCookie)); err == nil && ck.Value != "" {
		s, err := u.auth.CheckSession(r.Context(), ck.Value)
		switch {
		case err == nil:
			c.p, c.secret, c.csrf = s.Principal, ck.Value, csrfToken(ck.Value)
		case apperr.Is(err, apperr.Unauthenticated):
			c.clearCookie(w, sessionCookie)
		default:
			return c, err
		}
	}
	if c.csrf == "" {
		if ck, err := r.Cookie(c.cookieName(formCookie)); err == nil && len(ck.Value) >= 32 {
			c.csrf = csrfToken(ck.Value)
		}
	}
	return c, nil
}

// checkForm checks a form came from this site: the cross-origin check
// (Sec-Fetch-Site, Origin) and the CSRF token, which must match the one
// derived from this browser's cookie.
func (u *UI) checkForm(w http.ResponseWriter, r *http.Request, c *call, limit int64) error {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := u.origins.Check(r); err != nil {
		return errBadForm
	}
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return apperr.New(apperr.TooLarge, "the form is larger than the %d bytes accepted", limit)
		}
		return apperr.New(apperr.Invalid, "the form could not be read")
	}
	if c.csrf == "" || subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(c.csrf)) != 1 {
		return errBadForm
	}
	return nil
}

// Cookies. With https they take the __Host- prefix, which browsers
// accept only Secure, for this host alone, on path /: another site on a
// sibling domain, or a plain-http page, cannot plant one.
const (
	sessionCookie = "silo_session"
	// formCookie carries a random value the CSRF token of a signed-out
	// browser's forms (the log-in form) derives from.
	formCookie = "silo_form"
)

func (c *call) cookieName(name string) string {
	if c.secure {
		return "__Host-" + name
	}
	return name
}

func (c *call) setCookie(w http.ResponseWriter, name, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: c.cookieName(name), Value: value, Path: "/", Expires: expires,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode})
}

func (c *call) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: c.cookieName(name), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode})
}

// csrfToken derives a form token from a cookie's secret: another site
// can neither read the cookie nor, without it, compute the token, and the
// token does not reveal the cookie.
func csrfToken(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("silo web form v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// ensureFormCookie gives a signed-out browser the cookie its log-in
// form's token derives from.
func (c *call) ensureFormCookie(w http.ResponseWriter) {
	if c.csrf != "" {
		return
	}
	v := auth.NewPassword() + auth.NewPassword()
	c.setCookie(w, formCookie, v, time.Time{})
	c.csrf = csrfToken(v)
}

// clientAddr is the address failed log-ins are counted under: the
// connection's (a forwarded-for header would let anyone choose theirs).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// localPath returns next when it is a path on this site, else "/": a
// log-in must not send the browser elsewhere.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}
