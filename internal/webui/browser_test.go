package webui_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/sylabs/scs-library-client/client"

	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/testenv"
)

// chrome is one headless Chromium (Debian's package) driven through the
// DevTools protocol; each tab opens in a browser context of its own, so
// each has its own cookies (its own session).
type chrome struct {
	t     *testing.T
	ctx   context.Context
	dir   string // where screenshots go
	shots int
}

func newChrome(t *testing.T) *chrome {
	t.Helper()
	bin := testenv.LookPath(t, "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-gpu", true))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", bin, err)
	}
	// Screenshots are for people to look at, never committed: they go to
	// SILO_SCREENSHOTS, or a directory under the system's temporary one.
	dir := os.Getenv("SILO_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "silo-webui-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return &chrome{t: t, ctx: ctx, dir: dir}
}

// tab opens a tab with its own cookies, 1280 pixels wide.
func (c *chrome) tab() context.Context {
	c.t.Helper()
	ctx, cancel := chromedp.NewContext(c.ctx, chromedp.WithNewBrowserContext())
	c.t.Cleanup(cancel)
	// A guard against a hung browser, not a speed check.
	ctx, cancelT := context.WithTimeout(ctx, 5*time.Minute)
	c.t.Cleanup(cancelT)
	c.do(ctx, chromedp.EmulateViewport(1280, 900))
	return ctx
}

func (c *chrome) do(ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		c.t.Fatal(err)
	}
}

func run[T any](c *chrome, ctx context.Context, a chromedp.Action[T]) T {
	c.t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		c.t.Fatal(err)
	}
	return v
}

// text is the visible text of the page's main element.
func (c *chrome) text(ctx context.Context) string {
	c.t.Helper()
	return run(c, ctx, chromedp.Text(chromedp.CSS("main")))
}

// shot saves a full-page screenshot, then the same page 375 pixels wide
// (a phone), and checks the narrow page does not scroll sideways.
func (c *chrome) shot(ctx context.Context, name string) {
	c.t.Helper()
	c.shots++
	save := func(suffix string) {
		b := run(c, ctx, chromedp.FullScreenshot(100)) // 100: PNG
		path := filepath.Join(c.dir, fmt.Sprintf("%02d-%s-%s.png", c.shots, name, suffix))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			c.t.Fatal(err)
		}
	}
	save("wide")
	c.do(ctx, chromedp.EmulateViewport(375, 800))
	save("narrow")
	overflow := run(c, ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > document.documentElement.clientWidth + 1`))
	c.do(ctx, chromedp.EmulateViewport(1280, 900))
	if overflow {
		c.t.Errorf("%s: the page scrolls sideways on a narrow screen", name)
	}
}

// login signs a tab in with the keyboard (Enter submits the form).
func (c *chrome) login(ctx context.Context, base, user string) {
	c.t.Helper()
	c.do(ctx, chromedp.Navigate(base+"/auth/login"),
		chromedp.SendKeys(chromedp.ID("name"), user),
		chromedp.SendKeys(chromedp.ID("password"), user+"-password\n"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/auth/account"]`)))
}

func mustContain(t *testing.T, what, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Fatalf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

// TestBrowser drives Chromium through the story: log in, create
// a token on /auth/tokens, push with scs-library-client using it, find
// the container and its metadata, freeze it and see a second push to the
// frozen tag refused, grant a team pull on the now private collection,
// see it from a member's session and not from a stranger's; on wide and
// narrow windows, with the keyboard where it matters.
func TestBrowser(t *testing.T) {
	t.Parallel() // mostly waiting on the browser: the other tests run meanwhile
	e := newEnv(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		e.password(u)
	}
	s := &story{t: t, e: e, c: newChrome(t), base: e.srv.URL}
	s.alice = s.c.tab()
	s.keyboard()
	token := s.createToken()
	lc, err := client.NewClient(&client.Config{BaseURL: s.base, AuthToken: token})
	if err != nil {
		t.Fatal(err)
	}
	s.push = func(seed string) error {
		img := builtSIF(t, seed, map[string]string{"org.example.pipeline": "browser"})
		_, err := lc.UploadImage(context.Background(), bytes.NewReader(img), "alice/browser/demo", "amd64", []string{"latest"}, "", nil)
		return err
	}
	if err := s.push("first"); err != nil {
		t.Fatalf("push with the page's token: %v", err)
	}
	s.findAndFreeze()
	s.grant()
	s.member()
	s.stranger()
}

// story is TestBrowser's state: the server, the browser, alice's tab and
// her client.
type story struct {
	t     *testing.T
	e     *env
	c     *chrome
	base  string
	alice context.Context
	push  func(seed string) error
}

// keyboard: the first Tab reaches the skip link, which moves focus to the
// content; the log-in form submits with Enter.
func (s *story) keyboard() {
	c, t := s.c, s.t
	c.do(s.alice, chromedp.Navigate(s.base+"/"))
	c.shot(s.alice, "home-signed-out")
	c.do(s.alice, chromedp.KeyEvent("\t"))
	if got := run(c, s.alice, chromedp.Evaluate[string](`document.activeElement.textContent`)); got != "Skip to content" {
		t.Fatalf("first Tab focuses %q", got)
	}
	c.do(s.alice, chromedp.KeyEvent("\r"))
	if got := run(c, s.alice, chromedp.Evaluate[string](`document.activeElement.id`)); got != "main" {
		t.Fatalf("the skip link moved focus to %q", got)
	}
}

// createToken logs alice in from the token page (where remote login
// sends her) and creates a token there; it returns the token shown.
func (s *story) createToken() string {
	c, t := s.c, s.t
	c.do(s.alice, chromedp.Navigate(s.base+"/auth/tokens"), chromedp.WaitVisible(chromedp.ID("password")))
	c.shot(s.alice, "login")
	c.do(s.alice, chromedp.SendKeys(chromedp.ID("name"), "alice"), chromedp.SendKeys(chromedp.ID("password"), "alice-password\n"),
		chromedp.WaitVisible(chromedp.ID("label")))
	c.do(s.alice, chromedp.SendKeys(chromedp.ID("label"), "browser test"), chromedp.SetValue(chromedp.ID("days"), "30"),
		chromedp.Click(chromedp.CSS(`form[action="/auth/tokens"] button`)), chromedp.WaitVisible(chromedp.ID("token-value")))
	token := run(c, s.alice, chromedp.Value(chromedp.ID("token-value")))
	mustContain(t, "the token page", c.text(s.alice), "shown only this once", "singularity remote login silo", "browser test")
	c.shot(s.alice, "token-created")
	return token
}

// findAndFreeze searches from the home page, opens the container with
// its metadata, freezes it and sees a second push to the tag refused.
func (s *story) findAndFreeze() {
	c, t := s.c, s.t
	c.do(s.alice, chromedp.Navigate(s.base+"/"), chromedp.SendKeys(chromedp.ID("q"), "demo\n"),
		chromedp.WaitVisible(chromedp.CSS(`main a[href="/library/alice/browser/demo"]`)))
	c.shot(s.alice, "search")
	c.do(s.alice, chromedp.Click(chromedp.CSS(`main a[href="/library/alice/browser/demo"]`)), chromedp.WaitVisible(chromedp.CSS("section.detail")))
	mustContain(t, "the container page", c.text(s.alice), "alice/browser/demo", "latest", "org.example.pipeline", "browser",
		"Definition file", "Bootstrap: docker", "singularity pull oras://"+s.e.srv.Host+"/alice/browser/demo:latest")
	c.shot(s.alice, "container")
	c.do(s.alice, chromedp.Click(chromedp.CSS(`form[action$="/-/freeze"] button`)), chromedp.WaitVisible(chromedp.CSS("h1 .badge.frozen")))
	c.shot(s.alice, "frozen")
	if err := s.push("second"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("second push to a frozen tag: %v", err)
	}
}

// grant: an administrator makes team lab with carol in it (the team
// pages have their own tests; no browser for it here); alice makes the
// collection private and grants lab pull in her browser.
func (s *story) grant() {
	c, t, e := s.c, s.t, s.e
	ctx := context.Background()
	root := auth.Principal{UserID: mustUser(t, e, "root").ID, Name: "root", Role: meta.RoleAdmin}
	if _, err := e.srv.Auth.CreateTeam(ctx, root, "lab"); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Auth.SetMember(ctx, root, "lab", "carol", true); err != nil {
		t.Fatal(err)
	}
	c.do(s.alice, chromedp.Navigate(s.base+"/library/alice/browser"), chromedp.Click(chromedp.CSS(`form[action$="/-/privacy"] button`)),
		chromedp.WaitVisible(chromedp.CSS("h1 .badge.private")),
		chromedp.SendKeys(chromedp.ID("team"), "lab\n"), chromedp.WaitVisible(chromedp.CSS(`button[aria-label="Revoke team lab"]`)))
	mustContain(t, "the collection page", c.text(s.alice), "The team may now pull this collection.")
	c.shot(s.alice, "granted")
}

// member: carol, in lab, finds it from alice's entity page.
func (s *story) member() {
	c := s.c
	carol := c.tab()
	c.login(carol, s.base, "carol")
	c.do(carol, chromedp.Navigate(s.base+"/library/alice"), chromedp.Click(chromedp.CSS(`main a[href="/library/alice/browser"]`)),
		chromedp.Click(chromedp.CSS(`main a[href="/library/alice/browser/demo"]`)), chromedp.WaitVisible(chromedp.CSS("section.detail")))
	mustContain(s.t, "the member's container page", c.text(carol), "alice/browser/demo", "frozen", "private", "Hello from the runscript")
	c.shot(carol, "member")
}

// stranger: bob sees neither the collection nor the container, nor a
// search hit; the API page is everyone's.
func (s *story) stranger() {
	c, t := s.c, s.t
	bob := c.tab()
	c.login(bob, s.base, "bob")
	c.do(bob, chromedp.Navigate(s.base+"/library/alice"))
	if txt := c.text(bob); strings.Contains(txt, "browser") {
		t.Fatalf("a stranger sees the private collection:\n%s", txt)
	}
	c.do(bob, chromedp.Navigate(s.base+"/library/alice/browser/demo"))
	mustContain(t, "the stranger's page", c.text(bob), "Not Found", "collection alice/browser not found")
	c.shot(bob, "stranger")
	c.do(bob, chromedp.Navigate(s.base+"/search?q=demo"))
	mustContain(t, "the stranger's search", c.text(bob), "Nothing found.")
	c.do(bob, chromedp.Navigate(s.base+"/api"))
	c.shot(bob, "api")
}

func mustUser(t *testing.T, e *env, name string) meta.User {
	t.Helper()
	u, err := e.srv.Meta.GetUserByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
