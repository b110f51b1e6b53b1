package libraryapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// rawImage makes alice's container e/c/n through the JSON API and a
// not-yet-uploaded image with hash in it; it returns the ids.
func (e *env) rawImage(col, name, hash string) (containerID, imageID string) {
	e.t.Helper()
	tok := e.tokens["alice"]
	var ent, c, k, img struct{ ID string }
	e.doJSON("GET", "/v1/entities/alice", tok, nil, &ent)
	if st, _ := e.doJSON("GET", "/v1/collections/alice/"+col, tok, nil, &c); st == http.StatusNotFound {
		e.doJSON("POST", "/v1/collections", tok, map[string]string{"entity": ent.ID, "name": col}, &c)
	}
	if st, _ := e.doJSON("GET", "/v1/containers/alice/"+col+"/"+name, tok, nil, &k); st == http.StatusNotFound {
		e.doJSON("POST", "/v1/containers", tok, map[string]string{"collection": c.ID, "name": name}, &k)
	}
	if st, b := e.doJSON("POST", "/v1/images", tok, map[string]string{"hash": hash, "container": k.ID}, &img); st != http.StatusOK {
		e.t.Fatalf("create image: %d %s", st, b)
	}
	return k.ID, img.ID
}

func hashOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256." + hex.EncodeToString(s[:])
}

func readFile(t testing.TB, path string) []byte {
	b, err := os.ReadFile(path)
	must(t, err)
	return b
}

// multipart drives L16-L18 by hand: it starts an upload of filesize and
// returns its id.
func (e *env) startMultipart(imageID string, filesize int64) (string, int, int64) {
	e.t.Helper()
	var mp struct {
		UploadID   string            `json:"uploadID"`
		TotalParts int               `json:"totalParts"`
		PartSize   int64             `json:"partSize"`
		Options    map[string]string `json:"options"`
	}
	st, b := e.doJSON("POST", "/v2/imagefile/"+imageID+"/_multipart", e.tokens["alice"], map[string]int64{"filesize": filesize}, &mp)
	if st != http.StatusOK || mp.Options["s3compliant"] != "false" || int64(mp.TotalParts) != (filesize+mp.PartSize-1)/mp.PartSize {
		e.t.Fatalf("start multipart: %d %s", st, b)
	}
	return mp.UploadID, mp.TotalParts, mp.PartSize
}

func (e *env) partURL(imageID, uploadID string, n int, size int64) (int, []byte, string) {
	e.t.Helper()
	var part struct {
		URL string `json:"presignedURL"`
	}
	st, b := e.doJSON("PUT", "/v2/imagefile/"+imageID+"/_multipart", e.tokens["alice"],
		map[string]any{"uploadID": uploadID, "partNumber": n, "partSize": size, "sha256sum": ""}, &part)
	return st, b, part.URL
}

// putPart PUTs data to a part URL without Authorization.
func (e *env) putPart(url string, data []byte) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest("PUT", url, bytes.NewReader(data))
	must(e.t, err)
	res, err := http.DefaultClient.Do(req)
	must(e.t, err)
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, res.Header.Get("ETag")
}

func (e *env) completeMultipart(imageID, uploadID string, tokens ...string) (int, []byte) {
	e.t.Helper()
	var parts []map[string]any
	for i, tok := range tokens {
		parts = append(parts, map[string]any{"partNumber": i + 1, "token": tok})
	}
	return e.doJSON("PUT", "/v2/imagefile/"+imageID+"/_multipart_complete", e.tokens["alice"],
		map[string]any{"uploadID": uploadID, "completedParts": parts}, nil)
}

// wantNotUploaded checks an image is still pending.
func (e *env) wantNotUploaded(col, name, hash string) {
	e.t.Helper()
	var img struct{ Uploaded bool }
	e.doJSON("GET", "/v1/images/alice/"+col+"/"+name+":"+hash, e.tokens["alice"], nil, &img)
	if img.Uploaded {
		e.t.Fatal("image marked uploaded")
	}
}

// TestHostileUploads: every bad upload is refused with the protocol's
// error JSON and leaves nothing stored.
func TestHostileUploads(t *testing.T) {
	e := newEnv(t)
	good := readFile(t, makeSIF(t, "amd64", 3<<20, 1))
	other := readFile(t, makeSIF(t, "amd64", 3<<20, 2)) // same size, other bytes
	hash := hashOf(good)
	n := int64(len(good))

	t.Run("short multipart", func(t *testing.T) {
		_, img := e.rawImage("hostile", "short", hash)
		up, total, _ := e.startMultipart(img, n)
		if total != 1 {
			t.Fatalf("total parts %d", total)
		}
		_, _, url := e.partURL(img, up, 1, n-1000)
		st, etag := e.putPart(url, good[:n-1000])
		if st != http.StatusOK || etag == "" {
			t.Fatalf("part: %d %q", st, etag)
		}
		st, b := e.completeMultipart(img, up, etag)
		if msg := wantError(t, st, b, http.StatusBadRequest); !strings.Contains(msg, "incomplete") {
			t.Fatalf("message %q", msg)
		}
		e.wantNotUploaded("hostile", "short", hash)
		e.wantNothingStored()
	})
	t.Run("wrong part etag", func(t *testing.T) {
		_, img := e.rawImage("hostile", "etag", hash)
		up, _, _ := e.startMultipart(img, n)
		_, _, url := e.partURL(img, up, 1, n)
		if st, _ := e.putPart(url, good); st != http.StatusOK {
			t.Fatalf("part: %d", st)
		}
		st, b := e.completeMultipart(img, up, `"`+strings.Repeat("0", 64)+`"`)
		wantError(t, st, b, http.StatusBadRequest)
		e.wantNotUploaded("hostile", "etag", hash)
		e.wantNothingStored()
	})
	t.Run("wrong sha256 multipart", func(t *testing.T) {
		_, img := e.rawImage("hostile", "sha", hash)
		up, _, _ := e.startMultipart(img, n)
		_, _, url := e.partURL(img, up, 1, n)
		_, etag := e.putPart(url, other)
		st, b := e.completeMultipart(img, up, etag)
		if msg := wantError(t, st, b, http.StatusBadRequest); !strings.Contains(msg, "does not match") {
			t.Fatalf("message %q", msg)
		}
		e.wantNotUploaded("hostile", "sha", hash)
		e.wantNothingStored()
	})
	t.Run("wrong sha256 single part", func(t *testing.T) {
		_, img := e.rawImage("hostile", "sha1", hash)
		var up struct {
			URL string `json:"uploadURL"`
		}
		e.doJSON("POST", "/v2/imagefile/"+img, e.tokens["alice"], map[string]any{"filesize": n}, &up)
		if st, _ := e.putPart(up.URL, other); st != http.StatusOK {
			t.Fatalf("put: %d", st)
		}
		st, b := e.doJSON("PUT", "/v2/imagefile/"+img+"/_complete", e.tokens["alice"], "{}", nil)
		wantError(t, st, b, http.StatusBadRequest)
		e.wantNotUploaded("hostile", "sha1", hash)
		e.wantNothingStored()
		// An announced sha256sum must be the image's.
		st, b = e.doJSON("POST", "/v2/imagefile/"+img, e.tokens["alice"], map[string]any{"filesize": n, "sha256sum": hashOf(other)[7:]}, nil)
		wantError(t, st, b, http.StatusBadRequest)
	})
	t.Run("wrong sha256 v1 raw", func(t *testing.T) {
		_, img := e.rawImage("hostile", "raw", hash)
		st, b := e.do("POST", "/v1/imagefile/"+img, e.tokens["alice"], bytes.NewReader(other))
		wantError(t, st, b, http.StatusBadRequest)
		e.wantNotUploaded("hostile", "raw", hash)
		e.wantNothingStored()
	})
	t.Run("wrong size single part", func(t *testing.T) {
		_, img := e.rawImage("hostile", "size", hash)
		var up struct {
			URL string `json:"uploadURL"`
		}
		e.doJSON("POST", "/v2/imagefile/"+img, e.tokens["alice"], map[string]any{"filesize": n}, &up)
		st, _ := e.putPart(up.URL, good[:n-1])
		if st != http.StatusBadRequest {
			t.Fatalf("short PUT: %d", st)
		}
		st, b := e.doJSON("PUT", "/v2/imagefile/"+img+"/_complete", e.tokens["alice"], "{}", nil)
		wantError(t, st, b, http.StatusNotFound)
		e.wantNothingStored()
	})
	t.Run("parts out of order", func(t *testing.T) {
		_, img := e.rawImage("hostile", "order", hash)
		up, total, partSize := e.startMultipart(img, 64<<20+1)
		if total != 2 {
			t.Fatalf("total %d", total)
		}
		st, b, _ := e.partURL(img, up, 2, 1)
		if msg := wantError(t, st, b, http.StatusBadRequest); !strings.Contains(msg, "expected part 1") {
			t.Fatalf("message %q", msg)
		}
		_, _, url := e.partURL(img, up, 1, partSize)
		st, b = e.do("PUT", strings.TrimSuffix(url, "/1")+"/2", "", strings.NewReader("x"))
		wantError(t, st, b, http.StatusBadRequest)
		st, b = e.doJSON("PUT", "/v2/imagefile/"+img+"/_multipart_abort", e.tokens["alice"], map[string]string{"uploadID": up}, nil)
		if st != http.StatusOK {
			t.Fatalf("abort: %d %s", st, b)
		}
		e.wantNothingStored()
	})
	t.Run("complete twice and replay", func(t *testing.T) {
		_, img := e.rawImage("hostile", "twice", hash)
		up, _, _ := e.startMultipart(img, n)
		_, _, url := e.partURL(img, up, 1, n)
		_, etag := e.putPart(url, good)
		st, b := e.completeMultipart(img, up, etag)
		if st != http.StatusOK || !strings.Contains(string(b), `"containerUrl":"library/alice/hostile/twice"`) {
			t.Fatalf("complete: %d %s", st, b)
		}
		blobs, _ := e.storedBlobs()
		st, b = e.completeMultipart(img, up, etag)
		wantError(t, st, b, http.StatusConflict)
		st, _ = e.putPart(url, good)
		if st != http.StatusNotFound {
			t.Fatalf("replayed part URL: %d", st)
		}
		again, sessions := e.storedBlobs()
		if len(again) != len(blobs) || sessions != 0 || e.uploadRows() != 0 {
			t.Fatalf("state changed: %v -> %v, %d sessions", blobs, again, sessions)
		}
	})
}

// TestConcurrentWriters: a second request on a busy upload session is
// refused, not interleaved.
func TestConcurrentWriters(t *testing.T) {
	e := newEnv(t)
	data := readFile(t, makeSIF(t, "amd64", 2<<20, 3))
	_, img := e.rawImage("busy", "app", hashOf(data))
	var up struct {
		URL string `json:"uploadURL"`
	}
	e.doJSON("POST", "/v2/imagefile/"+img, e.tokens["alice"], map[string]any{"filesize": len(data)}, &up)
	pr, pw := io.Pipe()
	done := make(chan int)
	// With "Expect: 100-continue" the client sends the body only once the
	// server's handler reads it, that is once it holds the session; the
	// long timeout keeps the client from sending early.
	tr := &http.Transport{ExpectContinueTimeout: time.Hour}
	defer tr.CloseIdleConnections()
	go func() {
		req, _ := http.NewRequest("PUT", up.URL, pr)
		req.ContentLength = int64(len(data))
		req.Header.Set("Expect", "100-continue")
		res, err := tr.RoundTrip(req)
		if err != nil {
			done <- 0
			return
		}
		res.Body.Close()
		done <- res.StatusCode
	}()
	// This write returns once the server reads the body.
	if _, err := pw.Write(data[:1<<20]); err != nil {
		t.Fatal(err)
	}
	// Busy is 503: the session is fine, come back later.
	st, b := e.do("PUT", up.URL, "", bytes.NewReader(data))
	wantError(t, st, b, http.StatusServiceUnavailable)
	pw.Write(data[1<<20:])
	pw.Close()
	if st := <-done; st != http.StatusOK {
		t.Fatalf("first writer: %d", st)
	}
	if st, b := e.doJSON("PUT", "/v2/imagefile/"+img+"/_complete", e.tokens["alice"], "{}", nil); st != http.StatusOK {
		t.Fatalf("complete: %d %s", st, b)
	}
}

// TestHostileInput: unknown ids, malformed JSON and bad names get the
// protocol's error JSON and store nothing.
func TestHostileInput(t *testing.T) {
	e := newEnv(t)
	tok := e.tokens["alice"]
	var ent struct{ ID string }
	e.doJSON("GET", "/v1/entities/alice", tok, nil, &ent)
	cid, _ := e.rawImage("input", "app", hashOf([]byte("x")))
	unknown := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/v1/images/alice/input/nope:latest", "", 404},
		{"GET", "/v1/imagefile/alice/input/app:latest", "", 404},
		{"POST", "/v2/imagefile/" + unknown, `{"filesize":1}`, 404},
		{"PUT", "/v2/imagefile/" + unknown + "/_complete", `{}`, 404},
		{"PUT", "/v2/_upload/" + unknown, "data", 404},
		{"PUT", "/v2/_upload/" + unknown + "/1", "data", 404},
		{"POST", "/v2/tags/" + unknown, `{"Tag":"latest","ImageID":"x"}`, 404},
		{"GET", "/v1/tags/" + unknown, "", 404},
		{"PUT", "/v1/containers/" + unknown, `{"frozen":true}`, 404},
		{"POST", "/v1/images", `{"hash":`, 400},
		{"POST", "/v1/images", `{"hash":"sha256.xyz","container":"` + cid + `"}`, 400},
		{"POST", "/v2/tags/" + cid, `[1,2`, 400},
		{"POST", "/v1/collections", `{"name": 5}`, 400},
		{"POST", "/v1/entities", `{"name":"Alice"}`, 400},
		{"POST", "/v1/collections", `{"entity":"` + ent.ID + `","name":"a..b"}`, 400},
		{"POST", "/v1/collections", `{"entity":"` + ent.ID + `","name":"ÜNÏ"}`, 400},
		{"POST", "/v1/containers", `{"collection":"x","name":"app"}`, 404},
		{"GET", "/v1/containers/alice/a..b/app", "", 400},
		{"GET", "/v1/images/alice/input/app:bad/tag", "", 400},
		{"GET", "/v1/images/alice/input/app:latest?arch=AMD%2064", "", 400},
		{"GET", "/v1/search?value=", "", 400},
	} {
		var body io.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body)
		}
		st, b := e.do(tc.method, tc.path, tok, body)
		wantError(t, st, b, tc.status)
	}
	var col struct{ Containers []string }
	e.doJSON("GET", "/v1/collections/alice/input", tok, nil, &col)
	if len(col.Containers) != 1 {
		t.Fatalf("containers %v", col.Containers)
	}
	var en struct{ Collections []string }
	e.doJSON("GET", "/v1/entities/alice", tok, nil, &en)
	if len(en.Collections) != 1 {
		t.Fatalf("collections %v", en.Collections)
	}
	e.wantNothingStored()
}

// TestDeleteDropsUploads: deleting an image drops its upload sessions at
// once (their blob data and records), as they can never complete; and a
// completed upload drops the image's other sessions of either kind.
func TestDeleteDropsUploads(t *testing.T) {
	e := newEnv(t)
	tok := e.tokens["alice"]
	data := readFile(t, makeSIF(t, "amd64", 1<<20, 4))
	_, img := e.rawImage("gone", "app", hashOf(data))
	var up struct {
		URL string `json:"uploadURL"`
	}
	e.doJSON("POST", "/v2/imagefile/"+img, tok, map[string]any{"filesize": len(data)}, &up)
	if st, _ := e.putPart(up.URL, data); st != http.StatusOK {
		t.Fatalf("put: %d", st)
	}
	mp, _, _ := e.startMultipart(img, int64(len(data)))
	_, _, url := e.partURL(img, mp, 1, int64(len(data)))
	if st, _ := e.putPart(url, data); st != http.StatusOK {
		t.Fatalf("part: %d", st)
	}
	if st, b := e.doJSON("DELETE", "/v1/images/alice/gone/app:"+hashOf(data), tok, nil, nil); st != http.StatusOK {
		t.Fatalf("delete: %d %s", st, b)
	}
	e.wantNothingStored()

	// A finished multipart upload drops an abandoned single-part one.
	_, img = e.rawImage("gone", "app2", hashOf(data))
	e.doJSON("POST", "/v2/imagefile/"+img, tok, map[string]any{"filesize": len(data)}, &up)
	if st, _ := e.putPart(up.URL, data); st != http.StatusOK {
		t.Fatalf("put: %d", st)
	}
	mp, _, _ = e.startMultipart(img, int64(len(data)))
	_, _, url = e.partURL(img, mp, 1, int64(len(data)))
	_, etag := e.putPart(url, data)
	if st, b := e.completeMultipart(img, mp, etag); st != http.StatusOK {
		t.Fatalf("complete: %d %s", st, b)
	}
	if _, sessions := e.storedBlobs(); sessions != 0 || e.uploadRows() != 0 {
		t.Fatalf("left behind: %d blob sessions, %d upload rows", sessions, e.uploadRows())
	}
}
