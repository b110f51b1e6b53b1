package cli

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// shub:// pulls read the sregistry API (docs/protocols/sregistry-api.md
// §4): GET /api/container/{collection}/{name}:{tag} (or under
// /{entity}/api/...), then the image URL it names, verified against the
// manifest's sha256. The server side is issue 13's (docs/sregistry.md);
// on a server without it this test skips, saying so.
func TestPullShub(t *testing.T) {
	e := newLibEnv(t)
	resp, err := http.Get(e.srv.URL + "/api/collections/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Skipf("the server does not speak the sregistry API yet (GET /api/collections/: %s)", resp.Status)
	}
	img := makeSIF(t, "amd64", 64<<10, 51)
	sum := sha256File(t, img)
	e.push(img, "dino/rex:v1")
	stored := e.storage("dino", "rex", "v1", sum)
	e.mustRun("", "pull", "--no-https", "shub://"+e.srv.Host+"/alice/dino/rex:v1").expectOut(t,
		"[container][new] dino/rex:v1\nSuccess! "+stored+"\n")
	sameFile(t, stored, img)
	e.mustRun("", "pull", "dino/rex:v1").expectOut(t, "[container][update] dino/rex:v1\nSuccess! "+stored+"\n")
	// The bare form: the one collection of that name the caller may see.
	e.mustRun("", "pull", "--no-https", "shub://"+e.srv.Host+"/dino/rex:v1").expectOut(t,
		"[container][update] dino/rex:v1\nSuccess! "+stored+"\n")

	// Missing and private (shub:// has no credentials) get one answer.
	h := e.srv.Host
	want := "while pulling shub://%s/alice/dino/%s:v1: GET http://%s/alice/api/container/dino/%s:v1: 403 Forbidden: Authentication Required"
	e.run("", "pull", "--no-https", "shub://"+h+"/alice/dino/nope:v1").expectFatal(t, fmt.Sprintf(want, h, "nope", h, "nope"))
	e.makePrivate("alice", "alice/dino")
	e.run("", "pull", "--no-https", "shub://"+h+"/alice/dino/rex:v1").expectFatal(t, fmt.Sprintf(want, h, "rex", h, "rex"))
	if r := e.mustRun("", "images"); strings.Count(r.stdout, "\n") != 2 {
		t.Errorf("catalogue:\n%s", r.stdout)
	}
}
