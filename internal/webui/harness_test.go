package webui_test

// The tests here start the real composed server (servertest) and drive
// the pages over HTTP as a browser would (a cookie jar, forms with their
// CSRF token, redirects seen one by one), with scs-library-client
// pushing and pulling against the same server.

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sylabs/scs-library-client/client"
	"github.com/sylabs/sif/v2/pkg/sif"

	"github.com/silo-hpc/silo/internal/config"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/pgtest"
	"github.com/silo-hpc/silo/internal/servertest"
	"github.com/silo-hpc/silo/internal/sifinspect/sifinspecttest"
)

// TestMain stops the PostgreSQL cluster that SILO_TEST_POSTGRES=1 starts.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

type env struct {
	t         *testing.T
	srv       *servertest.Server
	tokens    map[string]string // user -> API token
	passwords map[string]bool   // users whose password is set
}

// newEnv starts a server with alice, bob and carol (users) and root
// (admin), each with an API token; a user gets the password
// "<name>-password" when a browser first logs in as them (each password
// costs an argon2id hash: only the tests that log in pay for it).
func newEnv(t *testing.T, edit ...func(*config.Config)) *env {
	t.Helper()
	e := &env{t: t, srv: servertest.Start(t, edit...), tokens: map[string]string{}, passwords: map[string]bool{}}
	ctx := context.Background()
	for name, role := range map[string]meta.Role{"alice": meta.RoleUser, "bob": meta.RoleUser, "carol": meta.RoleUser, "root": meta.RoleAdmin} {
		if _, err := e.srv.Auth.CreateUser(ctx, name, role, ""); err != nil {
			t.Fatal(err)
		}
		tok, _, err := e.srv.Auth.IssueToken(ctx, name, "test", 0)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[name] = tok
	}
	return e
}

// password gives a user their password "<name>-password", once.
func (e *env) password(name string) {
	e.t.Helper()
	if e.passwords[name] {
		return
	}
	if err := e.srv.Auth.SetPassword(context.Background(), name, name+"-password"); err != nil {
		e.t.Fatal(err)
	}
	e.passwords[name] = true
}

// browser is one browser: its cookies, and the CSRF token of the last
// page it loaded.
type browser struct {
	e    *env
	c    *http.Client
	csrf string
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// page is a response: status, body, redirect target.
type page struct {
	status   int
	body     string
	location string
	header   http.Header
}

func (b *browser) do(req *http.Request) page {
	b.e.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	p := page{status: res.StatusCode, body: string(body), location: res.Header.Get("Location"), header: res.Header}
	if m := csrfRe.FindStringSubmatch(p.body); m != nil {
		b.csrf = m[1]
	}
	return p
}

func (b *browser) get(path string) page {
	b.e.t.Helper()
	req, _ := http.NewRequest("GET", b.e.srv.URL+path, nil)
	return b.do(req)
}

// post submits a form with the CSRF token of the last page loaded.
func (b *browser) post(path string, form url.Values) page {
	b.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if !form.Has("csrf") {
		form.Set("csrf", b.csrf)
	}
	req, _ := http.NewRequest("POST", b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// login returns a browser logged in as name.
func (e *env) login(name string) *browser {
	e.t.Helper()
	e.password(name)
	b := e.browser()
	b.get("/auth/login")
	p := b.post("/auth/login", url.Values{"name": {name}, "password": {name + "-password"}, "next": {"/"}})
	if p.status != http.StatusSeeOther || p.location != "/" {
		e.t.Fatalf("login %s: %d %s", name, p.status, p.body)
	}
	return b
}

// want checks a page's status and that it contains every string.
func want(t *testing.T, p page, status int, contains ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d: %.2000s", p.status, status, p.body)
	}
	for _, s := range contains {
		if !strings.Contains(p.body, s) {
			t.Fatalf("page lacks %q: %.3000s", s, p.body)
		}
	}
}

// lacks checks a page contains none of the strings.
func lacks(t *testing.T, p page, strs ...string) {
	t.Helper()
	for _, s := range strs {
		if strings.Contains(p.body, s) {
			t.Fatalf("page has %q: %.3000s", s, p.body)
		}
	}
}

// libClient returns scs-library-client for a user ("" anonymous).
func (e *env) libClient(user string) *client.Client {
	e.t.Helper()
	c, err := client.NewClient(&client.Config{BaseURL: e.srv.URL, AuthToken: e.tokens[user]})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// push uploads a SIF to ref (entity/collection/container) with tags.
func (e *env) push(user string, img []byte, ref string, tags ...string) error {
	e.t.Helper()
	_, err := e.libClient(user).UploadImage(context.Background(), bytes.NewReader(img), ref, "amd64", tags, "pushed by "+user, nil)
	return err
}

func (e *env) mustPush(user string, img []byte, ref string, tags ...string) {
	e.t.Helper()
	if err := e.push(user, img, ref, tags...); err != nil {
		e.t.Fatalf("push %s as %s: %v", ref, user, err)
	}
}

// builtSIF is a SIF laid out as `singularity build` makes one (the
// inspector's own fixture file system: runscript, environment, test,
// labels.json, definition file), with extra SIF labels; seed makes each
// one's bytes differ.
func builtSIF(t testing.TB, seed string, labels map[string]string) []byte {
	t.Helper()
	squash, err := os.ReadFile(filepath.Join("..", "sifinspect", "testdata", "singularity-gzip.sqfs"))
	if err != nil {
		t.Fatal(err)
	}
	return sifinspecttest.SIF(t, squash, sifinspecttest.SIFOptions{Deffile: sifinspecttest.Deffile + "# " + seed + "\n", Labels: labels})
}

// smallSIF is a minimal SIF (a primary partition of a few bytes).
func smallSIF(t testing.TB, seed string) []byte {
	t.Helper()
	di, err := sif.NewDescriptorInput(sif.DataPartition, strings.NewReader("partition "+seed),
		sif.OptPartitionMetadata(sif.FsSquash, sif.PartPrimSys, "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	buf := sif.NewBuffer(nil)
	f, err := sif.CreateContainer(buf, sif.OptCreateWithDescriptors(di), sif.OptCreateDeterministic(), sif.OptCreateWithCloseOnUnload(false))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.UnloadContainer(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// id reads an object's id through the Library API as user.
func (e *env) id(user, path string) string {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	m := regexp.MustCompile(`"id":"([0-9a-f]+)"`).FindSubmatch(b)
	if res.StatusCode != http.StatusOK || m == nil {
		e.t.Fatalf("GET %s as %s: %d %s", path, user, res.StatusCode, b)
	}
	return string(m[1])
}

func formOf(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}
