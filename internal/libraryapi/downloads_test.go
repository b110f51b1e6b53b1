package libraryapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// A download counts once however the client fetches it: a whole GET, or
// scs-library-client's concurrent download (several ranges, one from
// byte 0); a later range (a resumed download) and HEAD do not count. The
// container's downloadCount is its images' total.
func TestDownloadCount(t *testing.T) {
	e := newEnv(t)
	alice := e.client("alice")
	path := makeSIF(t, "amd64", 12<<20, 3)
	alice.mustPush(t, path, "alice/dl/app", "amd64", "latest")
	alice.pullBoth(t, "alice/dl/app", "latest", "amd64", path) // two downloads
	req, _ := http.NewRequest("GET", e.srv.URL+"/v1/imagefile/alice/dl/app:latest", nil)
	req.Header.Set("Range", "bytes=100-")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusPartialContent {
		t.Fatalf("range: %v", err)
	} else {
		res.Body.Close()
	}
	// A range past the end is 416 in the API's error envelope, with the
	// size in Content-Range (and is no download).
	req.Header.Set("Range", "bytes=999999999-")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	err = json.NewDecoder(res.Body).Decode(&env)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusRequestedRangeNotSatisfiable || env.Error.Code != 416 || env.Error.Message == "" ||
		!strings.HasPrefix(res.Header.Get("Content-Range"), "bytes */") {
		t.Fatalf("unsatisfiable range: %d %+v %v (Content-Range %q)", res.StatusCode, env, err, res.Header.Get("Content-Range"))
	}
	if res, err := http.Head(e.srv.URL + "/v1/imagefile/alice/dl/app:latest"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("head: %v", err)
	}
	var con struct {
		DownloadCount int64 `json:"downloadCount"`
	}
	e.doJSON("GET", "/v1/containers/alice/dl/app", "", nil, &con)
	if con.DownloadCount != 2 {
		t.Fatalf("downloadCount %d, want 2", con.DownloadCount)
	}
	img, err := alice.GetImage(context.Background(), "amd64", "alice/dl/app:latest")
	if err != nil {
		t.Fatal(err)
	}
	if stored, _ := e.srv.Meta.GetImage(context.Background(), img.ID); stored.Downloads != 2 {
		t.Fatalf("image downloads %d", stored.Downloads)
	}
}
