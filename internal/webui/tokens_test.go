package webui_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sylabs/scs-library-client/client"
)

var tokenRe = regexp.MustCompile(`<textarea id="token-value"[^>]*>([^<]+)</textarea>`)

// The token page end to end: a token made in the page is shown once,
// works with scs-library-client (the client singularity uses) against
// the same server, is listed with its label, last use and expiry, and
// stops working the moment it is revoked.
func TestTokenFlow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := e.login("alice")
	want(t, b.get("/auth/tokens"), http.StatusOK, "Create a token")
	p := b.post("/auth/tokens", formOf("label", "workstation-7", "days", "30"))
	want(t, p, http.StatusCreated, "shown only this once", "singularity remote login silo",
		"silo registry login --insecure -u alice oras://"+e.srv.Host, "It expires ")
	if p.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("the page with the secret may be cached: %q", p.header.Get("Cache-Control"))
	}
	m := tokenRe.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no token on the page: %s", p.body)
	}
	secret := m[1]
	if len(secret) < 200 {
		t.Fatalf("token of %d characters: singularity remote login refuses under 200", len(secret))
	}
	// Shown once: the list never has it again.
	list := b.get("/auth/tokens")
	want(t, list, http.StatusOK, "workstation-7", "active")
	lacks(t, list, secret, "token-value")

	// `singularity remote login` checks it, then pushes use it.
	if st := e.status("GET", "/v1/token-status", secret); st != http.StatusOK {
		t.Fatalf("token-status: %d", st)
	}
	c, err := client.NewClient(&client.Config{BaseURL: e.srv.URL, AuthToken: secret})
	if err != nil {
		t.Fatal(err)
	}
	img := smallSIF(t, "token-flow")
	if _, err := c.UploadImage(ctx, bytes.NewReader(img), "alice/laptop/app", "amd64", []string{"v1"}, "", nil); err != nil {
		t.Fatalf("push with the page's token: %v", err)
	}
	var pulled bytes.Buffer
	if err := c.DownloadImage(ctx, &pulled, "amd64", "alice/laptop/app", "v1", nil); err != nil || !bytes.Equal(pulled.Bytes(), img) {
		t.Fatalf("pull: %v (%d bytes)", err, pulled.Len())
	}
	// Its last use shows.
	list = b.get("/auth/tokens")
	row := rowOf(t, list.body, "workstation-7")
	if strings.Count(row, "UTC") != 3 {
		t.Fatalf("the row should show created, last used and expiry dates: %s", row)
	}
	id := regexp.MustCompile(`/auth/tokens/([0-9a-f]+)/revoke`).FindStringSubmatch(row)
	if id == nil {
		t.Fatalf("no revoke button: %s", row)
	}
	// Another user cannot revoke it.
	bob := e.login("bob")
	bob.get("/auth/tokens")
	want(t, bob.post("/auth/tokens/"+id[1]+"/revoke", nil), http.StatusNotFound)
	// Revoked: the very next request fails.
	p = b.post("/auth/tokens/"+id[1]+"/revoke", nil)
	if p.status != http.StatusSeeOther || p.location != "/auth/tokens?done=revoked" {
		t.Fatalf("revoke: %d %q", p.status, p.location)
	}
	if st := e.status("GET", "/v1/token-status", secret); st != http.StatusUnauthorized {
		t.Fatalf("token-status after revoke: %d", st)
	}
	if _, err := c.UploadImage(ctx, bytes.NewReader(smallSIF(t, "after")), "alice/laptop/app", "amd64", []string{"v2"}, "", nil); err == nil {
		t.Fatal("push with a revoked token succeeded")
	}
	want(t, b.get("/auth/tokens?done=revoked"), http.StatusOK, "The token is revoked", "revoked")
	// Bad choices are refused with the page's own message.
	want(t, b.post("/auth/tokens", formOf("label", strings.Repeat("x", 101), "days", "30")), http.StatusBadRequest, "at most 100 characters")
	want(t, b.post("/auth/tokens", formOf("label", "x", "days", "soon")), http.StatusBadRequest, "choose when the token expires")
}

// rowOf returns the table row containing text.
func rowOf(t *testing.T, body, text string) string {
	t.Helper()
	for _, row := range strings.Split(body, "<tr>") {
		if strings.Contains(row, text) {
			return row
		}
	}
	t.Fatalf("no row with %q", text)
	return ""
}

var secretsRe = regexp.MustCompile(`(?s)save this as <code>~/.sregistry</code>:</p>\s*<pre[^>]*><code>([^<]+)</code>`)

// The token page's ~/.sregistry file is sregistry-cli's credential for
// the same token: its key signs a push step (docs/sregistry.md,
// "Authentication") until the token is revoked.
func TestTokenPageSRegistrySecrets(t *testing.T) {
	e := newEnv(t)
	b := e.login("alice")
	b.get("/auth/tokens")
	p := b.post("/auth/tokens", formOf("label", "sregistry", "days", "30"))
	want(t, p, http.StatusCreated, "~/.sregistry")
	m := secretsRe.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no secrets file on the page: %s", p.body)
	}
	var secrets struct {
		Client   string `json:"SREGISTRY_CLIENT"`
		Registry struct{ Token, Username, Base string }
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &secrets); err != nil {
		t.Fatalf("secrets file: %v\n%s", err, m[1])
	}
	if secrets.Client != "registry" || secrets.Registry.Username != "alice" || secrets.Registry.Base != e.srv.URL ||
		secrets.Registry.Token == "" || secrets.Registry.Token == tokenRe.FindStringSubmatch(p.body)[1] {
		t.Fatalf("secrets file: %+v", secrets)
	}
	pushStep := func() int {
		ts := time.Now().UTC().Format("20060102T15Z")
		mac := hmac.New(sha256.New, []byte(secrets.Registry.Token))
		mac.Write([]byte("push|tools|" + ts + "|app|v1|"))
		req, _ := http.NewRequest("POST", e.srv.URL+"/api/upload/chunked_upload",
			strings.NewReader(`{"collection":"tools","name":"app","tag":"v1"}`))
		req.Header.Set("Authorization", "SREGISTRY-HMAC-SHA256 Credential=push/"+
			base64.StdEncoding.EncodeToString([]byte("alice"))+"/"+ts+",Signature="+hex.EncodeToString(mac.Sum(nil)))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if st := pushStep(); st != http.StatusOK {
		t.Fatalf("push step signed with the page's key: %d", st)
	}
	id := regexp.MustCompile(`/auth/tokens/([0-9a-f]+)/revoke`).FindStringSubmatch(rowOf(t, b.get("/auth/tokens").body, "sregistry"))
	if id == nil {
		t.Fatal("no revoke button")
	}
	b.post("/auth/tokens/"+id[1]+"/revoke", nil)
	if st := pushStep(); st != http.StatusForbidden {
		t.Fatalf("push step after the token is revoked: %d", st)
	}
}
