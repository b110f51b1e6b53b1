package libraryapi_test

import (
	"context"
	"net/http"
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
