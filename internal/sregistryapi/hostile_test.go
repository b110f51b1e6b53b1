package sregistryapi_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/meta"
)

// snapshot is what the store holds: committed blobs, blob sessions,
// upload rows.
type snapshot struct {
	blobs          []string
	sessions, rows int
}

func (e *env) snapshot() snapshot {
	b, s, r := e.stored()
	slices.Sort(b)
	return snapshot{b, s, r}
}

// wantUnchanged checks nothing was stored since before: no blob, no blob
// session and (unless rows says how many permits may wait) no upload row.
func (e *env) wantUnchanged(before snapshot, rows int) {
	e.t.Helper()
	now := e.snapshot()
	if !slices.Equal(now.blobs, before.blobs) || now.sessions != 0 || now.rows != rows {
		e.t.Fatalf("stored: blobs %v (before %v), %d blob sessions, %d upload rows", now.blobs, before.blobs, now.sessions, now.rows)
	}
}

// startPush sends push step 1 and returns the status, detail and cid.
func (c *cli) startPush(coll, name, tag string) (int, []byte, string) {
	body := fmt.Sprintf(`{"collection": %q, "name": %q, "tag": %q}`, coll, name, tag)
	res, b := c.send("POST", c.base+"/upload/chunked_upload", map[string]string{
		"Authorization": c.sign("push", coll, name, tag), "Content-Type": "application/json"},
		strings.NewReader(body), int64(len(body)), true)
	var r struct{ Cid json.Number }
	_ = json.Unmarshal(b, &r)
	return res.StatusCode, b, r.Cid.String()
}

// Refused signatures, at either step, store nothing.
func TestHostileSignatures(t *testing.T) {
	e := newEnv(t)
	path, _ := makeSIF(t, "amd64", 10_000, 1)
	before := e.snapshot()
	expired := e.cli("alice")
	expired.at = time.Now().Add(-2 * time.Hour)
	wrongKey := e.cli("alice")
	wrongKey.key = e.users["bob"].key // bob's key, claiming to be alice
	revoked := e.user("carol", meta.RoleUser)
	carol := e.cli("carol")
	if err := e.srv.Auth.RevokeToken(t.Context(), revoked.tokenID); err != nil {
		t.Fatal(err)
	}
	anon := e.cli("")
	for name, tc := range map[string]struct {
		c    *cli
		want string
	}{
		"expired":        {expired, "signature expired"},
		"another's key":  {wrongKey, "invalid signature"},
		"revoked token":  {carol, "invalid signature"},
		"no such user":   {&cli{t: t, base: anon.base, user: "nobody", key: "x"}, "invalid signature"},
		"anonymous":      {anon, "invalid signature"},
		"another's kind": {&cli{t: t, base: anon.base, user: "alice", key: e.users["alice"].key}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			if name == "another's kind" {
				// A pull signature on a push.
				body := `{"collection": "tools", "name": "app", "tag": "latest"}`
				res, b := tc.c.send("POST", tc.c.base+"/upload/chunked_upload", map[string]string{
					"Authorization": tc.c.sign("pull", "tools", "app", "latest")}, strings.NewReader(body), int64(len(body)), true)
				wantDetail(t, res.StatusCode, b, http.StatusForbidden)
				return
			}
			res := tc.c.push(path, "tools", "app", "latest")
			if d := wantDetail(t, res.status1, res.body1, http.StatusForbidden); !strings.Contains(d, tc.want) {
				t.Fatalf("detail %q, want %q", d, tc.want)
			}
		})
	}
	// A signature from the previous UTC hour is still good.
	late := e.cli("alice")
	late.at = time.Now().Add(-time.Hour)
	if res := late.push(path, "tools", "app", "latest"); res.status2 != 200 {
		t.Fatalf("previous hour: %+v", res)
	}
	if len(before.blobs) != 0 || len(e.snapshot().blobs) != 1 {
		t.Fatalf("blobs %v", e.snapshot().blobs)
	}
}

// The upload step needs a fresh permit of its own user, for its names;
// a replayed upload (the same header and permit) is refused.
func TestHostileUploads(t *testing.T) {
	e := newEnv(t)
	path, data := makeSIF(t, "amd64", 10_000, 1)
	other, _ := makeSIF(t, "amd64", 10_000, 2)
	a := e.cli("alice")
	st, b, cid := a.startPush("tools", "app", "v1")
	if st != 200 || cid == "" {
		t.Fatalf("step 1: %d %s", st, b)
	}
	before := e.snapshot()
	url := e.srv.URL + "/upload"
	// bob's upload on alice's permit; no permit; a number never issued.
	for _, tc := range []struct {
		c         *cli
		cid, want string
		status    int
	}{
		{e.cli("bob"), cid, "no push permit", 403},
		{a, "", "invalid collection", 400},
		{a, "12345", "no push permit", 403},
	} {
		st, b := tc.c.upload(url, path, "tools", "app", "v1", tc.cid)
		if d := wantDetail(t, st, b, tc.status); !strings.Contains(d, tc.want) {
			t.Fatalf("detail %q, want %q", d, tc.want)
		}
		e.wantUnchanged(before, 1)
	}
	// The real upload, then the same request again.
	if st, b := a.upload(url, path, "tools", "app", "v1", cid); st != 200 {
		t.Fatalf("upload: %d %s", st, b)
	}
	after := e.snapshot()
	st, b = a.upload(url, other, "tools", "app", "v1", cid)
	if d := wantDetail(t, st, b, http.StatusForbidden); !strings.Contains(d, "no push permit") {
		t.Fatalf("replay: %q", d)
	}
	e.wantUnchanged(after, 0)
	if !equal(e.libPull("", "alice/tools/app", "v1"), data) {
		t.Fatal("the replay changed the image")
	}
	// A permit carries its names: another name ends it.
	_, _, cid = a.startPush("tools", "app", "v2")
	st, b = a.upload(url, path, "tools", "other", "v2", cid)
	wantDetail(t, st, b, http.StatusBadRequest)
	e.wantUnchanged(after, 0)
	// SREGISTRY_EVENT stands in for a missing Authorization header.
	_, _, cid = a.startPush("tools", "app", "v3")
	head, tail, ctype := multipartFrame([][2]string{{"SREGISTRY_EVENT", a.sign("upload", "tools", "app", "v3")},
		{"name", "app"}, {"collection", cid}, {"tag", "v3"}}, "app:v3.sif")
	res, b := a.send("POST", url, map[string]string{"Content-Type": ctype}, strings.NewReader(head+string(data)+tail), -1, true)
	if res.StatusCode != 200 {
		t.Fatalf("upload signed in its field: %d %s", res.StatusCode, b)
	}
}

// Pushes the rules refuse are refused at the first step, before a byte:
// into someone else's collection or entity, anonymously, over a frozen
// tag; a file that is not a SIF is refused at the second. Nothing is
// stored and no collection is created.
func TestHostilePushes(t *testing.T) {
	e := newEnv(t)
	path, _ := makeSIF(t, "amd64", 10_000, 1)
	e.libPush("bob", path, "bob/bobs/app", "v1")
	e.libPush("alice", path, "alice/cold/app", "v1")
	e.freeze("alice", "alice/cold/app", true)
	before := e.snapshot()
	for _, tc := range []struct {
		c               *cli
		coll, name, tag string
		status          int
		want            string
	}{
		{e.cli("alice"), "bobs", "app", "v2", 403, "permission denied"},
		{e.cli("alice", e.srv.URL+"/bob"), "newcol", "app", "v1", 403, "permission denied"},
		{e.cli("alice"), "cold", "app", "v1", 403, "frozen"},
		{e.cli("alice"), "bad_", "app", "v1", 400, "invalid collection name"},
		{e.cli("alice"), "tools", "app", "sha256.x", 400, "invalid tag"},
	} {
		res := tc.c.push(path, tc.coll, tc.name, tc.tag)
		if d := wantDetail(t, res.status1, res.body1, tc.status); !strings.Contains(d, tc.want) {
			t.Fatalf("%s/%s:%s: %q, want %q", tc.coll, tc.name, tc.tag, d, tc.want)
		}
		e.wantUnchanged(before, 0)
	}
	e.wantNoCollection("bob", "newcol")
	// A new tag in a frozen container is allowed (seed 003).
	if res := e.cli("alice").push(path, "cold", "app", "v2"); res.status2 != 200 {
		t.Fatalf("new tag in a frozen container: %+v", res)
	}
	// Not a SIF: refused with nothing stored, the collection not created.
	before = e.snapshot()
	notSIF := filepath.Join(t.TempDir(), "script.sif")
	if err := os.WriteFile(notSIF, []byte("#!/bin/sh\necho not a SIF\n"+strings.Repeat("x", 500)), 0o644); err != nil {
		t.Fatal(err)
	}
	res := e.cli("alice").push(notSIF, "fresh", "app", "v1")
	if d := wantDetail(t, res.status2, res.body2, http.StatusBadRequest); !strings.Contains(d, "not a SIF") {
		t.Fatalf("not a SIF: %q", d)
	}
	e.wantUnchanged(before, 0)
	e.wantNoCollection("alice", "fresh")
}

// A multipart body cut short (the connection ends, or the closing
// boundary never comes) stores nothing.
func TestTruncatedUpload(t *testing.T) {
	e := newEnv(t)
	_, data := makeSIF(t, "amd64", 300_000, 1)
	a := e.cli("alice")
	before := e.snapshot()
	for _, cut := range []string{"connection", "boundary"} {
		_, _, cid := a.startPush("tools", "app", "v1")
		head, tail, ctype := multipartFrame([][2]string{{"SREGISTRY_EVENT", a.sign("upload", "tools", "app", "v1")},
			{"name", "app"}, {"collection", cid}, {"tag", "v1"}}, "app:v1.sif")
		body := head + string(data) + tail
		length := len(body)
		if cut == "connection" {
			body = body[:len(head)+len(data)/2]
		} else {
			body = head + string(data) + "\r\n"
			length = len(body)
		}
		status := rawPost(t, e.srv.Host, "/upload", a.sign("upload", "tools", "app", "v1"), ctype, body, length)
		if status != 400 {
			t.Fatalf("%s: status %d", cut, status)
		}
		e.wantUnchanged(before, 0)
	}
	e.wantNoCollection("alice", "tools")
}

// rawPost sends a POST whose body may be shorter than its Content-Length,
// closes the sending side and returns the status (0 when none came).
func rawPost(t *testing.T, host, path, authz, ctype, body string, length int) int {
	t.Helper()
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s",
		path, host, authz, ctype, length, body)
	conn.(*net.TCPConn).CloseWrite()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}
