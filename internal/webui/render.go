package webui

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/httpx"
)

// pageTemplate is the layout with one page's "content".
type pageTemplate = *template.Template

// parsePages parses the layout once per page file: each page defines its
// own "title" and "content".
func parsePages() map[string]pageTemplate {
	names, err := templateFS.ReadDir("templates")
	if err != nil {
		panic(err)
	}
	pages := map[string]pageTemplate{}
	for _, n := range names {
		name := n.Name()
		if name == "layout.html" || strings.HasPrefix(name, "_") {
			continue
		}
		t := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS,
			"templates/layout.html", "templates/_*.html", "templates/"+name))
		pages[strings.TrimSuffix(name, ".html")] = t
	}
	return pages
}

// view is what every page renders.
type view struct {
	User   auth.Principal
	CSRF   string
	Notice string
	Base   string // external base URL
	Host   string // the host (and port) image refs name
	Page   any
}

// render writes page with data.
func (u *UI) render(w http.ResponseWriter, r *http.Request, c *call, status int, page string, data any) error {
	t, ok := u.pages[page]
	if !ok {
		return fmt.Errorf("no template %q", page)
	}
	v := view{User: c.p, CSRF: c.csrf, Notice: notices[r.URL.Query().Get("done")], Base: c.base,
		Host: strings.TrimPrefix(strings.TrimPrefix(c.base, "https://"), "http://"), Page: data}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// notices are the messages a redirect after a form may show (by code, so
// a link cannot make the page say anything else).
var notices = map[string]string{
	"login":      "You are logged in.",
	"logout":     "You are logged out.",
	"revoked":    "The token is revoked: it stopped working at once.",
	"password":   "Your password is changed. Log in again with the new one.",
	"created":    "Created.",
	"saved":      "Saved.",
	"deleted":    "Deleted.",
	"granted":    "The team may now pull this collection.",
	"ungranted":  "The team's access is revoked.",
	"frozen":     "The container is frozen: its tags cannot change.",
	"unfrozen":   "The container is no longer frozen.",
	"expired":    "Your session has ended: log in again.",
	"member":     "The team is changed.",
	"user":       "The account is changed.",
	"settings":   "The settings are saved and in force.",
	"private":    "The collection is private.",
	"public":     "The collection is public.",
	"collection": "The collection is created.",
	"rotated":    "The collection's image URLs are new: those handed out before (shub://, sregistry-cli) no longer work.",
	"key":        "Your key is saved on this server's keyserver. Images it signed are checked again.",
	"keyremoved": "The key is removed from this server's keyserver. Images it signed are checked again.",
}

// done redirects (303) after a form to path, showing notice code.
func done(w http.ResponseWriter, r *http.Request, path, code string) error {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	http.Redirect(w, r, path+sep+"done="+code, http.StatusSeeOther)
	return nil
}

// errorPage is the error page's data.
type errorPage struct {
	Status  int
	Title   string
	Message string
}

// fail is the interface's one error mapping: a signed-out browser asked
// for what needs a log-in goes to the log-in page (and back afterwards);
// everything else is an error page with the service's client-safe
// message. Private things are NotFound with the name asked for, exactly
// as missing ones.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, c *call, err error) {
	code := apperr.CodeOf(err)
	if code == apperr.Unauthenticated && c.p.Anonymous() {
		next := r.URL.RequestURI()
		if r.Method != http.MethodGet {
			next = "/"
		}
		http.Redirect(w, r, "/auth/login?next="+url.QueryEscape(next), http.StatusSeeOther)
		return
	}
	status := httpx.Status(code)
	if wait, ok := auth.RetryAfter(err); ok {
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	}
	if status >= 500 {
		httpx.Logger(r.Context()).Error("web ui error", "err", err, "path", r.URL.Path)
	}
	page := errorPage{Status: status, Title: http.StatusText(status), Message: apperr.MessageOf(err)}
	if rerr := u.render(w, r, c, status, "error", page); rerr != nil {
		httpx.Logger(r.Context()).Error("rendering an error page", "err", rerr)
		http.Error(w, page.Message, status)
	}
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"date": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"day": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02")
	},
	"size": humanSize,
	// insecure and nohttps are the flags commands need for a plain-http
	// server.
	"insecure": func(base string) string {
		if strings.HasPrefix(base, "http://") {
			return " --insecure"
		}
		return ""
	},
	"nohttps": func(base string) string {
		if strings.HasPrefix(base, "http://") {
			return " --no-https"
		}
		return ""
	},
	"lines": func(s string) []string {
		var out []string
		for _, p := range strings.Split(strings.TrimSpace(s), "\n\n") {
			out = append(out, strings.ReplaceAll(p, "\n", " "))
		}
		return out
	},
	"anchor": func(s string) string { return strings.ReplaceAll(strings.ToLower(s), " ", "-") },
	"code":   inlineCode,
	"short":  shortDigest,
	"hash":   func(d string) string { return strings.Replace(d, ":", ".", 1) },
	"join":   strings.Join,
	// checktext says what the check of one signature found.
	"checktext": checkText,
	"arch": func(a string) string {
		if a == "" {
			return "any"
		}
		return a
	},
}

// humanSize shows a byte count in binary units, as Singularity's
// progress bars do.
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// shortDigest is "sha256:0123456789ab" from a whole digest.
func shortDigest(d string) string {
	algo, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) < 12 {
		return d
	}
	return algo + ":" + hex[:12]
}

// inlineCode renders the `code` spans of a description (the OpenAPI
// document's only markup) as <code>, escaping everything.
func inlineCode(s string) template.HTML {
	var b strings.Builder
	for i, part := range strings.Split(s, "`") {
		if i%2 == 1 {
			b.WriteString("<code>" + template.HTMLEscapeString(part) + "</code>")
		} else {
			b.WriteString(template.HTMLEscapeString(part))
		}
	}
	return template.HTML(b.String())
}
