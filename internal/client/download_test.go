package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/client"
)

// The end-to-end download tests run against the real server
// (internal/cli). These exercise what Silo never does but other servers
// may: ignore Range, answer the wrong range, send no length. The
// handlers are stand-ins for such servers; the well-behaved one is the
// standard library's own http.ServeContent.

func payload(n int) ([]byte, string) {
	b := make([]byte, n)
	r := mrand.NewChaCha8([32]byte{byte(n)})
	r.Read(b)
	s := sha256.Sum256(b)
	return b, hex.EncodeToString(s[:])
}

func serve(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func download(t *testing.T, url string, size int64, sum string, conc int) (string, client.DownloadResult, error) {
	dest := filepath.Join(t.TempDir(), "img.sif")
	res, err := client.Download{URL: url, Doer: http.DefaultClient, Size: size, SHA256: sum, Dest: dest,
		Concurrency: conc, PartSize: 4096}.Run(context.Background())
	return dest, res, err
}

func checkFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s: %d bytes, %v; want %d bytes", path, len(got), err, len(want))
	}
	for _, left := range []string{client.PartialPath(path), client.PartialPath(path) + ".json"} {
		if _, err := os.Stat(left); err == nil {
			t.Errorf("%s left behind", left)
		}
	}
}

func TestDownloadRanges(t *testing.T) {
	data, sum := payload(50_000)
	var ranged atomic.Int32
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") != "" {
			ranged.Add(1)
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	})
	for _, conc := range []int{1, 4} {
		ranged.Store(0)
		dest, res, err := download(t, url, int64(len(data)), sum, conc)
		if err != nil || res.SHA256 != sum || res.Size != int64(len(data)) {
			t.Fatalf("concurrency %d: %+v %v", conc, res, err)
		}
		checkFile(t, dest, data)
		if want := map[int]int32{1: 1, 4: 13}[conc]; ranged.Load() != want {
			t.Errorf("concurrency %d: %d range requests, want %d", conc, ranged.Load(), want)
		}
	}
}

// A server that ignores Range (200 with the whole file) still gives the
// right file: the downloader falls back to one stream.
func TestDownloadServerIgnoresRange(t *testing.T) {
	data, sum := payload(50_000)
	url := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write(data) })
	for _, conc := range []int{1, 4} {
		dest, _, err := download(t, url, int64(len(data)), sum, conc)
		if err != nil {
			t.Fatalf("concurrency %d: %v", conc, err)
		}
		checkFile(t, dest, data)
	}
}

// A wrong Content-Range is never written where the requested bytes go.
func TestDownloadWrongContentRange(t *testing.T) {
	data, sum := payload(20_000)
	var calls atomic.Int32
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") != "" && calls.Add(1) == 2 {
			w.Header().Set("Content-Range", "bytes 0-4095/20000")
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[:4096])
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	})
	dest, _, err := download(t, url, int64(len(data)), sum, 4)
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, dest, data)
}

// A partial file whose record names other content is started afresh.
func TestDownloadStaleRecord(t *testing.T) {
	data, sum := payload(20_000)
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	})
	dest := filepath.Join(t.TempDir(), "img.sif")
	os.WriteFile(client.PartialPath(dest), bytes.Repeat([]byte{1}, len(data)), 0o644)
	os.WriteFile(client.PartialPath(dest)+".json", []byte(`{"sha256":"`+strings.Repeat("0", 64)+`","size":20000,"part_size":4096,"done":[0,1,2,3,4]}`), 0o644)
	res, err := client.Download{URL: url, Doer: http.DefaultClient, Size: int64(len(data)), SHA256: sum, Dest: dest, PartSize: 4096}.Run(context.Background())
	if err != nil || res.Resumed != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	checkFile(t, dest, data)
}

// Without a known size the file streams, is verified, and a mismatch
// keeps nothing.
func TestDownloadUnknownSize(t *testing.T) {
	data, sum := payload(30_000)
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Transfer-Encoding", "chunked")
		w.Write(data)
	})
	dest, res, err := download(t, url, -1, sum, 4)
	if err != nil || res.Size != int64(len(data)) {
		t.Fatalf("%+v %v", res, err)
	}
	checkFile(t, dest, data)
	dest, _, err = download(t, url, -1, strings.Repeat("0", 64), 4)
	var hm *client.HashMismatchError
	if !errors.As(err, &hm) || hm.Got != sum {
		t.Fatalf("mismatch: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(dest)); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

// Error statuses carry the server's message.
func TestDownloadErrorStatus(t *testing.T) {
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"error":{"code":403,"message":"no, not you"}}`))
	})
	_, _, err := download(t, url, 100, strings.Repeat("0", 64), 1)
	if err == nil || err.Error() != "no, not you" {
		t.Errorf("err = %v", err)
	}
}

// With SlowRate, one range starts; the others open only when the first
// part is slow (here: not there within a second, as the server holds
// every request until a second one is open).
func TestDownloadOpensRangesWhenSlow(t *testing.T) {
	data, sum := payload(50_000)
	var mu sync.Mutex
	inFlight, most := 0, 0
	two := make(chan struct{})
	var once sync.Once
	hold := true
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		if inFlight >= 2 {
			once.Do(func() { close(two) })
		}
		h := hold
		mu.Unlock()
		defer func() { mu.Lock(); inFlight--; mu.Unlock() }()
		if h {
			select {
			case <-two:
			case <-time.After(10 * time.Second):
			}
		} else {
			time.Sleep(2 * time.Millisecond)
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	})
	run := func(slowRate int64) {
		t.Helper()
		dest := filepath.Join(t.TempDir(), "img.sif")
		if _, err := (client.Download{URL: url, Doer: http.DefaultClient, Size: int64(len(data)), SHA256: sum, Dest: dest,
			Concurrency: 4, PartSize: 4096, SlowRate: slowRate}).Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		checkFile(t, dest, data)
	}
	start := time.Now()
	run(1 << 50) // no link is this fast: the ranges open
	if most < 2 || time.Since(start) > 9*time.Second {
		t.Errorf("slow link: at most %d ranges at once after %v", most, time.Since(start))
	}
	mu.Lock()
	hold, most = false, 0
	mu.Unlock()
	run(1) // every link is this fast: one stream
	if most != 1 {
		t.Errorf("fast link: %d ranges at once", most)
	}
}
