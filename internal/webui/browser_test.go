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
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
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
	c := newChrome(t)
	base := e.srv.URL
	alice := c.tab()
	c.do(alice, chromedp.Navigate(base+"/"))
	c.shot(alice, "home-signed-out")
	// Keyboard: the first Tab reaches the skip link, which moves focus to
	// the content.
	c.do(alice, chromedp.KeyEvent("\t"))
	if got := run(c, alice, chromedp.Evaluate[string](`document.activeElement.textContent`)); got != "Skip to content" {
		t.Fatalf("first Tab focuses %q", got)
	}
	c.do(alice, chromedp.KeyEvent("\r"))
	if got := run(c, alice, chromedp.Evaluate[string](`document.activeElement.id`)); got != "main" {
		t.Fatalf("the skip link moved focus to %q", got)
	}
	c.do(alice, chromedp.Navigate(base+"/auth/tokens"), chromedp.WaitVisible(chromedp.ID("password")))
	c.shot(alice, "login")
	c.do(alice, chromedp.SendKeys(chromedp.ID("name"), "alice"), chromedp.SendKeys(chromedp.ID("password"), "alice-password\n"),
		chromedp.WaitVisible(chromedp.ID("label")))
	c.do(alice, chromedp.SendKeys(chromedp.ID("label"), "browser test"), chromedp.SetValue(chromedp.ID("days"), "30"),
		chromedp.Click(chromedp.CSS(`form[action="/auth/tokens"] button`)), chromedp.WaitVisible(chromedp.ID("token-value")))
	token := run(c, alice, chromedp.Value(chromedp.ID("token-value")))
	mustContain(t, "the token page", c.text(alice), "shown only this once", "singularity remote login silo", "browser test")
	c.shot(alice, "token-created")

	// The token from the page pushes with the client singularity uses.
	lc, err := client.NewClient(&client.Config{BaseURL: base, AuthToken: token})
	if err != nil {
		t.Fatal(err)
	}
	push := func(seed string) error {
		img := builtSIF(t, seed, map[string]string{"org.example.pipeline": "browser"})
		_, err := lc.UploadImage(context.Background(), bytes.NewReader(img), "alice/browser/demo", "amd64", []string{"latest"}, "", nil)
		return err
	}
	if err := push("first"); err != nil {
		t.Fatalf("push with the page's token: %v", err)
	}
	// Find it: search from the home page, follow the result.
	c.do(alice, chromedp.Navigate(base+"/"), chromedp.SendKeys(chromedp.ID("q"), "demo\n"),
		chromedp.WaitVisible(chromedp.CSS(`main a[href="/library/alice/browser/demo"]`)))
	c.shot(alice, "search")
	c.do(alice, chromedp.Click(chromedp.CSS(`main a[href="/library/alice/browser/demo"]`)), chromedp.WaitVisible(chromedp.CSS("section.detail")))
	mustContain(t, "the container page", c.text(alice), "alice/browser/demo", "latest", "org.example.pipeline", "browser",
		"Definition file", "Bootstrap: docker", "singularity pull oras://"+e.srv.Host+"/alice/browser/demo:latest")
	c.shot(alice, "container")
	// Freeze it; a second push to the frozen tag is refused.
	c.do(alice, chromedp.Click(chromedp.CSS(`form[action$="/-/freeze"] button`)), chromedp.WaitVisible(chromedp.CSS("h1 .badge.frozen")))
	c.shot(alice, "frozen")
	if err := push("second"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("second push to a frozen tag: %v", err)
	}

	// An administrator makes team lab with carol in it (the team pages
	// have their own tests; a browser need not start for them here).
	ctx := context.Background()
	root := auth.Principal{UserID: mustUser(t, e, "root").ID, Name: "root", Role: meta.RoleAdmin}
	if _, err := e.srv.Auth.CreateTeam(ctx, root, "lab"); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Auth.SetMember(ctx, root, "lab", "carol", true); err != nil {
		t.Fatal(err)
	}
	// alice makes the collection private and grants lab pull.
	c.do(alice, chromedp.Navigate(base+"/library/alice/browser"), chromedp.Click(chromedp.CSS(`form[action$="/-/privacy"] button`)),
		chromedp.WaitVisible(chromedp.CSS("h1 .badge.private")),
		chromedp.SendKeys(chromedp.ID("team"), "lab\n"), chromedp.WaitVisible(chromedp.CSS(`button[aria-label="Revoke team lab"]`)))
	mustContain(t, "the collection page", c.text(alice), "The team may now pull this collection.")
	c.shot(alice, "granted")
	// carol sees it; bob does not.
	carol := c.tab()
	c.login(carol, base, "carol")
	c.do(carol, chromedp.Navigate(base+"/library/alice"), chromedp.Click(chromedp.CSS(`main a[href="/library/alice/browser"]`)),
		chromedp.Click(chromedp.CSS(`main a[href="/library/alice/browser/demo"]`)), chromedp.WaitVisible(chromedp.CSS("section.detail")))
	mustContain(t, "the member's container page", c.text(carol), "alice/browser/demo", "frozen", "private", "Hello from the runscript")
	c.shot(carol, "member")
	bob := c.tab()
	c.login(bob, base, "bob")
	c.do(bob, chromedp.Navigate(base+"/library/alice"))
	if txt := c.text(bob); strings.Contains(txt, "browser") {
		t.Fatalf("a stranger sees the private collection:\n%s", txt)
	}
	c.do(bob, chromedp.Navigate(base+"/library/alice/browser/demo"))
	mustContain(t, "the stranger's page", c.text(bob), "Not Found", "collection alice/browser not found")
	c.shot(bob, "stranger")
	c.do(bob, chromedp.Navigate(base+"/search?q=demo"))
	mustContain(t, "the stranger's search", c.text(bob), "Nothing found.")
	c.do(bob, chromedp.Navigate(base+"/api"))
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
