package cli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/client"
)

// Seed 004's pull: a new image is [new], the same version again is
// [update], another version under the same tag is a new entry.
func TestPullLibraryNewUpdateVersion(t *testing.T) {
	e := newLibEnv(t)
	v1 := makeSIF(t, "amd64", 64<<10, 1)
	e.push(v1, "tacos/rex:latest")
	sum1 := sha256File(t, v1)
	path1 := e.storage("tacos", "rex", "latest", sum1)

	e.mustRun("", "pull", "tacos/rex:latest").expectOut(t, "[container][new] tacos/rex:latest\nSuccess! "+path1+"\n")
	sameFile(t, path1, v1)
	e.mustRun("", "pull", "tacos/rex:latest").expectOut(t, "[container][update] tacos/rex:latest\nSuccess! "+path1+"\n")

	v2 := makeSIF(t, "amd64", 64<<10, 2)
	e.push(v2, "tacos/rex:latest")
	sum2 := sha256File(t, v2)
	path2 := e.storage("tacos", "rex", "latest", sum2)
	e.mustRun("", "pull", "tacos/rex").expectOut(t, "[container][new] tacos/rex:latest\nSuccess! "+path2+"\n")
	sameFile(t, path2, v2)
	sameFile(t, path1, v1)

	r := e.mustRun("", "images")
	golden(t, "images-two-versions", r.stdout, map[string]string{"V1": sum1, "V2": sum2})
	// The newest version is what the name without a version means.
	e.mustRun("", "get", "tacos/rex").expectOut(t, path2+"\n")
	e.mustRun("", "get", "tacos/rex:latest@"+sum1[:12]).expectOut(t, path1+"\n")
}

// Every ref form names the same image; -o/--name put it elsewhere and
// refuse to overwrite without --force; --no-cache records nothing.
func TestPullForms(t *testing.T) {
	e := newLibEnv(t)
	img := makeSIF(t, "amd64", 32<<10, 3)
	sum := sha256File(t, img)
	e.push(img, "library://"+e.srv.Host+"/alice/dino/rex:v1")
	stored := e.storage("dino", "rex", "v1", sum)
	for i, ref := range []string{"library://" + e.srv.Host + "/alice/dino/rex:v1", "alice/dino/rex:v1", "dino/rex:v1",
		"registry://dino/rex:v1", "dino/rex:v1@" + sum} {
		action := "update"
		if i == 0 {
			action = "new"
		}
		e.mustRun("", "pull", ref).expectOut(t, "[container]["+action+"] dino/rex:v1\nSuccess! "+stored+"\n")
	}
	e.mustRun("", "pull", "dino/rex:sha256."+sum).expectOut(t, "[container][new] dino/rex:sha256."+sum+"\nSuccess! "+
		e.storage("dino", "rex", "sha256."+sum, sum)+"\n")

	dir := t.TempDir()
	t.Chdir(dir)
	out := filepath.Join(dir, "out.sif")
	e.mustRun("", "pull", "-o", out, "dino/rex:v1").expectOut(t, "[container][update] dino/rex:v1\nSuccess! "+out+"\n")
	sameFile(t, out, img)
	e.mustRun("", "get", "dino/rex:v1").expectOut(t, out+"\n")
	e.run("", "pull", "--name", "out.sif", "dino/rex:v1").expectFatal(t, `while pulling dino/rex:v1: image file already exists: "out.sif" - will not overwrite (use --force)`)
	e.mustRun("", "pull", "--force", "--name", "out.sif", "dino/rex:v1").expectOut(t, "[container][update] dino/rex:v1\nSuccess! "+out+"\n")

	e.mustRun("", "pull", "--no-cache", "dino/rex:v1").expectOut(t, "Success! "+filepath.Join(dir, "rex_v1.sif")+"\n")
	sameFile(t, filepath.Join(dir, "rex_v1.sif"), img)

	e.run("", "pull", "dino/nope:v1").expectFatal(t, "while pulling dino/nope:v1: image library://"+e.srv.Host+"/alice/dino/nope:v1 (amd64) not found")
	e.run("", "pull", "ftp://x/y").expectFatal(t, `while pulling ftp://x/y: unsupported transport "ftp"`)
}

// Anonymous pulls see public images by their full name; a private
// collection is missing to others, with the message of a missing one.
func TestPullPrivacy(t *testing.T) {
	e := newLibEnv(t)
	img := makeSIF(t, "amd64", 16<<10, 4)
	e.push(img, "dino/rex:v1")
	e.push(img, "secret/app:v1")
	e.makePrivate("alice", "alice/secret")
	e.login("")
	e.mustRun("", "pull", "--no-cache", "-o", filepath.Join(t.TempDir(), "a.sif"), "alice/dino/rex:v1")
	missing := e.run("", "pull", "alice/nothing/app:v1")
	private := e.run("", "pull", "alice/secret/app:v1")
	want := "while pulling %s: image library://" + e.srv.Host + "/alice/%s/app:v1 (amd64) not found"
	missing.expectFatal(t, fmt.Sprintf(want, "alice/nothing/app:v1", "nothing"))
	private.expectFatal(t, fmt.Sprintf(want, "alice/secret/app:v1", "secret"))
	e.login("bob")
	e.run("", "pull", "alice/secret/app:v1").expectFatal(t, fmt.Sprintf(want, "alice/secret/app:v1", "secret"))
	e.login("alice")
	e.mustRun("", "pull", "secret/app:v1")
}

// An interrupted download leaves its parts and resumes with Range
// requests for the rest only; the result is the right file.
func TestPullResume(t *testing.T) {
	e := newLibEnv(t)
	img := makeSIF(t, "amd64", 1<<20, 5)
	sum := sha256File(t, img)
	e.push(img, "dino/big:v1")
	t.Setenv(envPartSize, fmt.Sprint(64<<10))
	t.Setenv(envConcurrency, "1") // one stream: where it stops is exact
	dest := e.storage("dino", "big", "v1", sum)
	cut := int64(400 << 10)
	wrapTransfers(t, func(req *http.Request, next http.RoundTripper) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		if err == nil && strings.HasPrefix(req.URL.Path, "/v1/imagefile/") {
			resp.Body = &cutBody{r: resp.Body, left: cut}
		}
		return resp, err
	})
	e.run("", "pull", "dino/big:v1").expectFatal(t, "while pulling dino/big:v1: error downloading image: connection reset (test)")
	if exists(dest) || !exists(client.PartialPath(dest)) || !exists(client.PartialPath(dest)+".json") {
		t.Fatalf("after the interruption: dest %v, partial %v", exists(dest), exists(client.PartialPath(dest)))
	}
	if n := e.mustRun("", "images").stdout; n != "" {
		t.Errorf("an interrupted pull is in the catalogue:\n%s", n)
	}

	var log requestLog
	t.Setenv(envConcurrency, "4")
	wrapTransfers(t, func(req *http.Request, next http.RoundTripper) (*http.Response, error) {
		log.add(req)
		return next.RoundTrip(req)
	})
	size := fileSize(t, img)
	r := e.mustRun("", "pull", "dino/big:v1")
	r.expect(t, 0, fmt.Sprintf("INFO:    Resumed an interrupted download: %d of %d bytes were already here\n", 6*64<<10, size))
	if r.stdout != "[container][new] dino/big:v1\nSuccess! "+dest+"\n" {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	sameFile(t, dest, img)
	// 6 whole parts (384 KiB) survived the cut at 400 KiB: the ranges
	// asked now start at the 7th part and cover the rest exactly once.
	ranges := log.matching("GET /v1/imagefile/")
	for _, rg := range ranges {
		if a, _ := parseRange(t, rg); a < 6*64<<10 {
			t.Errorf("resumed pull fetched %q again", rg)
		}
	}
	if fetched := rangeBytes(t, ranges); fetched != size-6*64<<10 {
		t.Errorf("resumed pull fetched %d bytes in %q, want %d", fetched, ranges, size-6*64<<10)
	}
	if exists(client.PartialPath(dest)) || exists(client.PartialPath(dest)+".json") {
		t.Error("partial files left after success")
	}
}

// parseRange reads the "bytes=a-b" of a logged request.
func parseRange(t *testing.T, logged string) (int64, int64) {
	t.Helper()
	var a, b int64
	if _, err := fmt.Sscanf(logged[strings.LastIndex(logged, "bytes="):], "bytes=%d-%d", &a, &b); err != nil {
		t.Fatalf("range %q: %v", logged, err)
	}
	return a, b
}

// rangeBytes sums the lengths of logged range requests.
func rangeBytes(t *testing.T, logged []string) int64 {
	t.Helper()
	var n int64
	for _, rg := range logged {
		a, b := parseRange(t, rg)
		n += b - a + 1
	}
	return n
}

// cutBody fails a response body after left bytes, as a dropped connection.
type cutBody struct {
	r    io.ReadCloser
	left int64
}

func (c *cutBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errors.New("connection reset (test)")
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *cutBody) Close() error { return c.r.Close() }

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// A large file is fetched as several ranges at once: the test holds each
// range request until another one is in flight, so the pull completes
// only if they really run concurrently. With SILO_DOWNLOAD_CONCURRENCY
// they open at once; by default, when the first stream is slow (here:
// held past a second).
func TestPullConcurrentRanges(t *testing.T) {
	for _, conc := range []string{"4", ""} {
		t.Run("concurrency="+conc, func(t *testing.T) { testConcurrentRanges(t, conc) })
	}
}

func testConcurrentRanges(t *testing.T, concurrency string) {
	e := newLibEnv(t)
	img := makeSIF(t, "amd64", 1<<20, 6)
	e.push(img, "dino/big:v1")
	t.Setenv(envPartSize, fmt.Sprint(64<<10))
	if concurrency != "" {
		t.Setenv(envConcurrency, concurrency)
	}
	var mu sync.Mutex
	inFlight, maxInFlight := 0, 0
	both := make(chan struct{})
	var once sync.Once
	var log requestLog
	wrapTransfers(t, func(req *http.Request, next http.RoundTripper) (*http.Response, error) {
		if !strings.HasPrefix(req.URL.Path, "/v1/imagefile/") {
			return next.RoundTrip(req)
		}
		log.add(req)
		mu.Lock()
		inFlight++
		maxInFlight = max(maxInFlight, inFlight)
		if inFlight >= 2 {
			once.Do(func() { close(both) })
		}
		mu.Unlock()
		defer func() { mu.Lock(); inFlight--; mu.Unlock() }()
		select {
		case <-both:
		case <-time.After(20 * time.Second):
			return nil, errors.New("no second range request came while the first was open")
		}
		return next.RoundTrip(req)
	})
	r := e.mustRun("", "pull", "dino/big:v1")
	sameFile(t, e.storage("dino", "big", "v1", sha256File(t, img)), img)
	if n := rangeBytes(t, log.matching("GET /v1/imagefile/")); n != fileSize(t, img) {
		t.Errorf("ranges cover %d bytes: %q", n, log.matching("GET"))
	}
	if maxInFlight < 2 || r.stderr != "" {
		t.Errorf("at most %d ranges at once; stderr %q", maxInFlight, r.stderr)
	}
}

// Bytes that do not hash to the server's sha256 are refused and nothing
// is kept: no file, no partial file, no catalogue entry.
func TestPullHashMismatch(t *testing.T) {
	e := newLibEnv(t)
	img := makeSIF(t, "amd64", 256<<10, 7)
	sum := sha256File(t, img)
	e.push(img, "dino/rex:v1")
	// The stored blob rots on the server's disk: same size, one byte off.
	blob := e.blobPath(sum)
	f, err := os.OpenFile(blob, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff}, 100<<10); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got := sha256File(t, blob)
	for _, conc := range []string{"1", "4"} {
		t.Setenv(envConcurrency, conc)
		t.Setenv(envPartSize, fmt.Sprint(32<<10))
		r := e.run("", "pull", "dino/rex:v1")
		r.expectFatal(t, "while pulling dino/rex:v1: downloaded image's sha256 "+got+" does not match the server's "+sum+": the download was deleted")
		dest := e.storage("dino", "rex", "v1", sum)
		if entries, _ := os.ReadDir(filepath.Dir(dest)); len(entries) != 0 {
			t.Errorf("left behind: %v", entries)
		}
		if r := e.mustRun("", "images"); r.stdout != "" {
			t.Errorf("catalogue:\n%s", r.stdout)
		}
	}
}
