package cli

import (
	"net/http"
	"testing"
)

// shub:// pulls read the sregistry API (docs/protocols/sregistry-api.md
// §4): GET /api/container/{collection}/{name}:{tag} (or under
// /{entity}/api/...), then the image URL it names, verified against the
// manifest's sha256. The server side is issue 13's; until it is in the
// server this test skips, saying so.
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
	e.run("", "pull", "--no-https", "shub://"+e.srv.Host+"/alice/dino/nope:v1").expectFatal(t,
		"while pulling shub://"+e.srv.Host+"/alice/dino/nope:v1: the requested manifest was not found")
	// Private collections are not pullable over shub:// (it has no auth).
	e.makePrivate("alice", "alice/dino")
	e.run("", "pull", "--no-https", "shub://"+e.srv.Host+"/alice/dino/rex:v1").expectFatal(t,
		"while pulling shub://"+e.srv.Host+"/alice/dino/rex:v1: ")
}
