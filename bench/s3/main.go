// Command s3 benchmarks Silo on the S3 blob store against the S3 server
// itself (run.sh starts versitygw and Silo on loopback): one big blob
// pushed and pulled straight to S3 with minio-go (multipart, the same part
// size Silo uses), then through Silo (OCI: a monolithic POST with its
// digest, which Silo streams into a multipart upload at the blob's key, and
// a streamed PATCH, which Silo copies into place at the end), pulled back
// through Silo. It prints MiB/s and Silo's ratios to the direct transfer.
// With -rss-pid and -rss-gib it then pushes a blob of that size and
// reports the Silo process's peak resident memory while it streams.
//
// Usage: go run ./bench/s3 -s3 http://127.0.0.1:P,key,secret,bucket -silo http://127.0.0.1:Q,user,token
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/opencontainers/go-digest"
)

func main() {
	s3Flag := flag.String("s3", "", "url,access key,secret key,bucket of the S3 server")
	siloFlag := flag.String("silo", "", "url,user,token of Silo (on that S3 server)")
	mib := flag.Int("mib", 1024, "size of the blob in MiB")
	partMiB := flag.Int("part", 16, "multipart part size of the direct S3 client, MiB (Silo's s3.part_size)")
	rounds := flag.Int("rounds", 2, "repetitions; the best round counts")
	rssPid := flag.Int("rss-pid", 0, "Silo's process id, to measure its peak memory")
	rssGiB := flag.Int("rss-gib", 8, "size in GiB of the blob pushed while measuring memory")
	flag.Parse()
	s3p, sp := strings.Split(*s3Flag, ","), strings.Split(*siloFlag, ",")
	if len(s3p) != 4 || len(sp) != 3 {
		fmt.Fprintln(os.Stderr, "want -s3 url,key,secret,bucket and -silo url,user,token")
		os.Exit(2)
	}
	size := int64(*mib) << 20
	client := s3Client(s3p)
	best := map[string]float64{}
	keep := func(name string, rate float64) {
		if rate > best[name] {
			best[name] = rate
		}
	}
	for r := 0; r < *rounds; r++ {
		// Every push has content of its own: a blob S3 already holds
		// would not be stored again.
		post, patch := uint64(2*r+1), uint64(2*r+2)
		fmt.Printf("round %d: computing digests ...\n", r+1)
		dPost, dPatch := digestOf(size, post), digestOf(size, patch)
		keep("S3 push (minio-go)", s3Push(client, s3p[3], size, int64(*partMiB)<<20))
		keep("S3 pull (minio-go)", s3Pull(client, s3p[3], size))
		keep("Silo push (POST ?digest)", siloPost(sp, size, dPost, post, r))
		keep("Silo push (PATCH stream)", siloPatch(sp, size, dPatch, patch, r))
		keep("Silo pull (GET)", siloPull(sp, size, dPatch, r))
	}
	fmt.Printf("\n%d MiB, best of %d rounds:\n", *mib, *rounds)
	for _, name := range []string{"S3 push (minio-go)", "Silo push (POST ?digest)", "Silo push (PATCH stream)", "S3 pull (minio-go)", "Silo pull (GET)"} {
		ratio := ""
		if strings.HasPrefix(name, "Silo push") {
			ratio = fmt.Sprintf("  %.2fx the direct push", best[name]/best["S3 push (minio-go)"])
		}
		if strings.HasPrefix(name, "Silo pull") {
			ratio = fmt.Sprintf("  %.2fx the direct pull", best[name]/best["S3 pull (minio-go)"])
		}
		fmt.Printf("  %-26s %8.1f MiB/s%s\n", name, best[name], ratio)
	}
	if *rssPid > 0 {
		peakRSS(sp, *rssPid, int64(*rssGiB)<<30)
	}
}

// source yields size bytes of a repeating pseudo-random 1 MiB block, each
// MiB stamped with its index so no two are alike; it costs next to
// nothing, so the transfer is what is measured.
type source struct {
	block []byte
	off   int64
	size  int64
}

func newSource(size int64, seed uint64) *source {
	b := make([]byte, 1<<20)
	x := uint64(0x9e3779b97f4a7c15) + seed*0x2545f4914f6cdd1d
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return &source{block: b, size: size}
}

func (s *source) Read(p []byte) (int, error) {
	if s.off >= s.size {
		return 0, io.EOF
	}
	in := int(s.off % int64(len(s.block)))
	n := copy(p, s.block[in:])
	if int64(n) > s.size-s.off {
		n = int(s.size - s.off)
	}
	if in == 0 && n >= 8 {
		mib := s.off >> 20
		for i := range 8 {
			p[i] = s.block[i] ^ byte(mib>>(8*i))
		}
	}
	s.off += int64(n)
	return n, nil
}

func digestOf(size int64, seed uint64) digest.Digest {
	h := sha256.New()
	io.CopyBuffer(h, newSource(size, seed), make([]byte, 1<<20))
	return digest.NewDigest(digest.SHA256, h)
}

func mibps(size int64, d time.Duration) float64 { return float64(size) / (1 << 20) / d.Seconds() }

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func s3Client(p []string) *minio.Client {
	host := strings.TrimPrefix(strings.TrimPrefix(p[0], "http://"), "https://")
	c, err := minio.New(host, &minio.Options{Creds: credentials.NewStaticV4(p[1], p[2], ""),
		Secure: strings.HasPrefix(p[0], "https://"), Region: "us-east-1", BucketLookup: minio.BucketLookupPath})
	must(err)
	ctx := context.Background()
	if ok, err := c.BucketExists(ctx, p[3]); err == nil && !ok {
		must(c.MakeBucket(ctx, p[3], minio.MakeBucketOptions{Region: "us-east-1"}))
	}
	return c
}

func s3Push(c *minio.Client, bucket string, size, part int64) float64 {
	start := time.Now()
	_, err := c.PutObject(context.Background(), bucket, "direct/big", newSource(size, 0), size,
		minio.PutObjectOptions{PartSize: uint64(part), DisableContentSha256: true})
	must(err)
	return report("S3 push (minio-go)", size, time.Since(start))
}

func s3Pull(c *minio.Client, bucket string, size int64) float64 {
	start := time.Now()
	obj, err := c.GetObject(context.Background(), bucket, "direct/big", minio.GetObjectOptions{})
	must(err)
	n, err := io.CopyBuffer(io.Discard, obj, make([]byte, 1<<20))
	obj.Close()
	must(err)
	if n != size {
		must(fmt.Errorf("direct pull: %d bytes", n))
	}
	must(c.RemoveObject(context.Background(), bucket, "direct/big", minio.RemoveObjectOptions{}))
	return report("S3 pull (minio-go)", size, time.Since(start))
}

func report(name string, size int64, d time.Duration) float64 {
	r := mibps(size, d)
	fmt.Printf("  %-26s %8.1f MiB/s (%s)\n", name, r, d.Round(time.Millisecond))
	return r
}

// do sends a request to Silo as its user.
func do(sp []string, method, url string, body io.Reader, size int64) *http.Response {
	req, err := http.NewRequest(method, url, body)
	must(err)
	req.ContentLength = size
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	req.SetBasicAuth(sp[1], sp[2])
	resp, err := http.DefaultClient.Do(req)
	must(err)
	return resp
}

func expect(resp *http.Response, code int, what string) {
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != code {
		must(fmt.Errorf("%s: %d %s", what, resp.StatusCode, b))
	}
}

// repo is a fresh repository per push, so none finds the blob already
// there.
func repo(kind string, round int) string { return fmt.Sprintf("bench/%s%d", kind, round) }

func siloPost(sp []string, size int64, d digest.Digest, seed uint64, round int) float64 {
	start := time.Now()
	resp := do(sp, "POST", sp[0]+"/v2/"+repo("post", round)+"/blobs/uploads/?digest="+d.String(), newSource(size, seed), size)
	expect(resp, http.StatusCreated, "monolithic push")
	return report("Silo push (POST ?digest)", size, time.Since(start))
}

func siloPatch(sp []string, size int64, d digest.Digest, seed uint64, round int) float64 {
	start := time.Now()
	resp := do(sp, "POST", sp[0]+"/v2/"+repo("patch", round)+"/blobs/uploads/", nil, 0)
	loc := resp.Header.Get("Location")
	expect(resp, http.StatusAccepted, "start upload")
	if !strings.HasPrefix(loc, "http") {
		loc = sp[0] + loc
	}
	resp = do(sp, "PATCH", loc, newSource(size, seed), -1)
	loc = resp.Header.Get("Location")
	expect(resp, http.StatusAccepted, "streamed PATCH")
	if !strings.HasPrefix(loc, "http") {
		loc = sp[0] + loc
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	expect(do(sp, "PUT", loc+sep+"digest="+d.String(), nil, 0), http.StatusCreated, "closing PUT")
	return report("Silo push (PATCH stream)", size, time.Since(start))
}

func siloPull(sp []string, size int64, d digest.Digest, round int) float64 {
	start := time.Now()
	resp := do(sp, "GET", sp[0]+"/v2/"+repo("patch", round)+"/blobs/"+d.String(), nil, 0)
	n, err := io.CopyBuffer(io.Discard, resp.Body, make([]byte, 1<<20))
	resp.Body.Close()
	must(err)
	if resp.StatusCode != http.StatusOK || n != size {
		must(fmt.Errorf("pull: %d, %d bytes", resp.StatusCode, n))
	}
	return report("Silo pull (GET)", size, time.Since(start))
}

// peakRSS pushes size bytes through Silo while sampling its resident
// memory, and prints the peak (and the kernel's high-water mark).
func peakRSS(sp []string, pid int, size int64) {
	fmt.Printf("\ncomputing the digest of %d GiB ...\n", size>>30)
	d := digestOf(size, 99)
	stop := make(chan struct{})
	peak := make(chan int64)
	go func() {
		var max int64
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if kb := statusKB(pid, "VmRSS:"); kb > max {
				max = kb
			}
			select {
			case <-stop:
				peak <- max
				return
			case <-t.C:
			}
		}
	}()
	start := time.Now()
	resp := do(sp, "POST", sp[0]+"/v2/bench/rss/blobs/uploads/?digest="+d.String(), newSource(size, 99), size)
	expect(resp, http.StatusCreated, "big push")
	took := time.Since(start)
	close(stop)
	max := <-peak
	fmt.Printf("  %d GiB push through Silo: %.1f MiB/s; Silo's peak RSS while it streamed %.1f MiB (VmHWM since start %.1f MiB)\n",
		size>>30, mibps(size, took), float64(max)/1024, float64(statusKB(pid, "VmHWM:"))/1024)
}

// statusKB reads a "Name: N kB" line of /proc/<pid>/status.
func statusKB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb
		}
	}
	return 0
}
