package webui

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/pgpkeys"
)

func (u *UI) authRoutes() {
	u.handle("GET /auth/login", u.loginPage)
	u.handle("POST /auth/login", u.login)
	u.handle("POST /auth/logout", u.logout)
	u.handle("GET /auth/tokens", u.tokensPage)
	u.handle("POST /auth/tokens", u.createToken)
	u.handle("POST /auth/tokens/{id}/revoke", u.revokeToken)
	u.handle("GET /auth/account", u.accountPage)
	u.handle("POST /auth/account/password", u.changePassword)
}

type loginPage struct {
	Name, Next, Error string
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request, c *call) error {
	next := localPath(r.URL.Query().Get("next"))
	if !c.p.Anonymous() {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	c.ensureFormCookie(w)
	return u.render(w, r, c, http.StatusOK, "login", loginPage{Next: next})
}

// login checks the password (with the failed log-in delay) and starts a
// session: a new secret in a new cookie, whatever the browser had.
func (u *UI) login(w http.ResponseWriter, r *http.Request, c *call) error {
	name, next := strings.TrimSpace(r.PostForm.Get("name")), localPath(r.PostForm.Get("next"))
	s, err := u.auth.Login(r.Context(), name, r.PostForm.Get("password"), clientAddr(r))
	if err != nil {
		return u.loginFailed(w, r, c, loginPage{Name: name, Next: next}, err)
	}
	// The cookie lasts as long as a session may (the server ends it
	// earlier when idle).
	c.setCookie(w, sessionCookie, s.Secret, s.ExpiresAt.Add(auth.SessionMax-auth.SessionIdle))
	c.clearCookie(w, formCookie)
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// loginFailed shows the form again with what went wrong: bad credentials
// (one message whatever was wrong) or the delay to wait.
func (u *UI) loginFailed(w http.ResponseWriter, r *http.Request, c *call, page loginPage, err error) error {
	status := http.StatusUnauthorized
	switch wait, throttled := auth.RetryAfter(err); {
	case throttled:
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds()+0.999)))
		page.Error = apperr.MessageOf(err) + "."
	case apperr.Is(err, apperr.Unauthenticated):
		page.Error = "Wrong user name or password."
	default:
		return err
	}
	return u.render(w, r, c, status, "login", page)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := u.auth.Logout(r.Context(), c.secret); err != nil {
		return err
	}
	c.clearCookie(w, sessionCookie)
	return done(w, r, "/", "logout")
}

// tokensPage is the page `singularity remote login` points to.
type tokensPage struct {
	Tokens []meta.Token
	// New is set on the answer to a create: the only time the secret
	// is shown.
	New     *newToken
	Expiry  []expiryChoice
	Default string
}

type newToken struct {
	Token meta.Token
	// Secret is the token itself.
	Secret string
	// SecretsJSON is the ~/.sregistry file for sregistry-cli, when the
	// sregistry transport provides it.
	SecretsJSON string
}

type expiryChoice struct{ Days, Label string }

var expiryChoices = []expiryChoice{{"30", "30 days"}, {"90", "90 days"}, {"365", "1 year"}, {"0", "never"}}

func (u *UI) tokensPage(w http.ResponseWriter, r *http.Request, c *call) error {
	ts, err := u.auth.Tokens(r.Context(), c.p)
	if err != nil {
		return err
	}
	return u.render(w, r, c, http.StatusOK, "tokens", tokensPage{Tokens: ts, Expiry: expiryChoices, Default: "90"})
}

// createToken answers with the page itself, the new token on it (no
// redirect: the secret must not travel in a URL, and is never shown
// again).
func (u *UI) createToken(w http.ResponseWriter, r *http.Request, c *call) error {
	days, err := strconv.Atoi(r.PostForm.Get("days"))
	if err != nil || days < 0 {
		return apperr.New(apperr.Invalid, "choose when the token expires")
	}
	secret, t, err := u.auth.CreateToken(r.Context(), c.p, strings.TrimSpace(r.PostForm.Get("label")), time.Duration(days)*24*time.Hour)
	if err != nil {
		return err
	}
	ts, err := u.auth.Tokens(r.Context(), c.p)
	if err != nil {
		return err
	}
	nt := &newToken{Token: t, Secret: secret}
	// sregistry-cli's secrets file for the same token, under the
	// commands (docs/sregistry.md).
	if u.sreg != nil {
		b, err := u.sreg.ClientSecrets(r.Context(), c.p, t.ID, c.base)
		if err != nil {
			return err
		}
		nt.SecretsJSON = string(b)
	}
	return u.render(w, r, c, http.StatusCreated, "tokens", tokensPage{Tokens: ts, New: nt, Expiry: expiryChoices, Default: "90"})
}

func (u *UI) revokeToken(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := u.auth.Revoke(r.Context(), c.p, r.PathValue("id")); err != nil {
		return err
	}
	return done(w, r, "/auth/tokens", "revoked")
}

type accountPage struct {
	Teams []meta.Team
	// Keys are the user's OpenPGP keys on the keyserver.
	Keys []pgpkeys.Key
}

func (u *UI) accountPage(w http.ResponseWriter, r *http.Request, c *call) error {
	teams, err := u.auth.MyTeams(r.Context(), c.p)
	if err != nil {
		return err
	}
	keys, err := u.keys.Mine(r.Context(), c.p)
	if err != nil {
		return err
	}
	return u.render(w, r, c, http.StatusOK, "account", accountPage{Teams: teams, Keys: keys})
}

// changePassword ends every session of the account, this one too: the
// browser logs in again with the new password.
func (u *UI) changePassword(w http.ResponseWriter, r *http.Request, c *call) error {
	if r.PostForm.Get("new") != r.PostForm.Get("repeat") {
		return apperr.New(apperr.Invalid, "the new password and its repetition differ")
	}
	if err := u.auth.ChangeOwnPassword(r.Context(), c.p, r.PostForm.Get("current"), r.PostForm.Get("new")); err != nil {
		return err
	}
	c.clearCookie(w, sessionCookie)
	return done(w, r, "/auth/login", "password")
}
