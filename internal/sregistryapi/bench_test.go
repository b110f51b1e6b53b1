package sregistryapi_test

import (
	"io"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"
)

// benchSize is the image size (SILO_BENCH_SIZE bytes, default 1 GiB).
func benchSize(b *testing.B) int64 {
	if s := os.Getenv("SILO_BENCH_SIZE"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	return 1 << 30
}

// BenchmarkPull pushes one image with sregistry-cli's two steps, then
// downloads it, alternately, through the shub image URL and the Library
// API's /v1/imagefile, and reports each speed and their ratio (shub over
// library: 1 is the same speed). Run it alone:
//
//	go test ./internal/sregistryapi -run '^$' -bench Pull -benchtime 3x
func BenchmarkPull(b *testing.B) {
	size := benchSize(b)
	e := newEnv(b)
	path, _ := makeSIF(b, "amd64", size, 1)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if res := e.cli("alice").push(path, "bench", "app", "latest"); res.status2 != 200 {
		b.Fatalf("push: %+v", res)
	}
	push := time.Since(start)
	res, body := e.cli("").get(e.cli("").base+"/container/bench/app:latest", "")
	if res.StatusCode != 200 {
		b.Fatalf("manifest: %d %s", res.StatusCode, body)
	}
	image := jsonField(b, body, "image")
	library := e.srv.URL + "/v1/imagefile/alice/bench/app:latest"
	var shubTime, libTime time.Duration
	b.SetBytes(2 * fi.Size())
	b.ResetTimer()
	for i := range b.N {
		urls := []string{image, library}
		if i%2 == 1 {
			urls = []string{library, image}
		}
		for _, u := range urls {
			d := download(b, u, fi.Size())
			if u == image {
				shubTime += d
			} else {
				libTime += d
			}
		}
	}
	b.StopTimer()
	mibs := func(d time.Duration) float64 { return float64(fi.Size()) * float64(b.N) / d.Seconds() / (1 << 20) }
	b.ReportMetric(mibs(shubTime), "shub-MiB/s")
	b.ReportMetric(mibs(libTime), "library-MiB/s")
	b.ReportMetric(libTime.Seconds()/shubTime.Seconds(), "shub/library")
	b.ReportMetric(float64(fi.Size())/push.Seconds()/(1<<20), "push-MiB/s")
}

// download GETs u to nowhere and checks its length.
func download(b *testing.B, u string, size int64) time.Duration {
	start := time.Now()
	res, err := http.Get(u)
	if err != nil {
		b.Fatal(err)
	}
	n, err := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 || n != size {
		b.Fatalf("GET %s: %d, %d bytes, %v", u, res.StatusCode, n, err)
	}
	return time.Since(start)
}

// BenchmarkPush pushes one image, alternately, with sregistry-cli's two
// steps and with scs-library-client (the Library API), each to a new
// container, and reports each speed and their ratio (sregistry over
// library).
func BenchmarkPush(b *testing.B) {
	e := newEnv(b)
	path, _ := makeSIF(b, "amd64", benchSize(b), 1)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	var sregTime, libTime time.Duration
	b.SetBytes(2 * fi.Size())
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if res := e.cli("alice").push(path, "bench", "s"+strconv.Itoa(i), "latest"); res.status2 != 200 {
			b.Fatalf("push: %+v", res)
		}
		sregTime += time.Since(start)
		start = time.Now()
		e.libPush("alice", path, "alice/bench/l"+strconv.Itoa(i), "latest")
		libTime += time.Since(start)
	}
	b.StopTimer()
	mibs := func(d time.Duration) float64 { return float64(fi.Size()) * float64(b.N) / d.Seconds() / (1 << 20) }
	b.ReportMetric(mibs(sregTime), "sregistry-MiB/s")
	b.ReportMetric(mibs(libTime), "library-MiB/s")
	b.ReportMetric(libTime.Seconds()/sregTime.Seconds(), "sregistry/library")
}
