// Package client benchmarks the `silo` client's transfers end to end, in
// one run, side by side with what they are measured against:
//
//   - push: `silo push` (the real binary, as a user runs it) against the
//     raw Library API: the least any client must do (sha256 of the file,
//     then the image, multipart upload and tag calls with net/http);
//   - pull: `silo pull` (download, sha256 check, catalogue entry) against
//     scs-library-client's ConcurrentDownloadImage, the code `singularity
//     pull` uses, alone and followed by the sha256 pass `singularity pull`
//     makes before it keeps a file in its cache; and a raw GET to a file.
//
// A `silo serve` process on loopback holds the images.
//
//	go test ./bench/client -run '^$' -bench . -benchtime 1x -timeout 0
//
// BENCH_SIZE_MIB sets the image size (default 1024), BENCH_ROUNDS how
// many rounds run (default 3; the best of each is reported, as the
// machine is shared).
package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sylabs/scs-library-client/client"
	"github.com/sylabs/sif/v2/pkg/sif"
)

// adminToken is long enough for `silo remote login` (200+ characters).
var adminToken = strings.Repeat("bench-admin-token-", 14)

const path = "admin/bench/img"

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func BenchmarkClientTransfers(b *testing.B) {
	size := int64(envInt("BENCH_SIZE_MIB", 1024)) << 20
	rounds := envInt("BENCH_ROUNDS", 3)
	e := setup(b, size)
	best := map[string]time.Duration{}
	keep := func(name string, d time.Duration) {
		if old, ok := best[name]; !ok || d < old {
			best[name] = d
		}
	}
	b.ResetTimer()
	for range b.N * rounds {
		keep("raw-push", e.timed(b, e.rawPush))
		e.deleteImage(b)
		keep("silo-push", e.timed(b, func() error { return e.silo("push", "-U", e.img, "bench/img:latest") }))
		keep("lc-pull", e.timed(b, func() error { return e.lcPull(false) }))
		keep("lc-pull+sha256", e.timed(b, func() error { return e.lcPull(true) }))
		keep("raw-pull", e.timed(b, e.rawPull))
		keep("silo-pull", e.timed(b, func() error { return e.silo("pull", "bench/img:latest") }))
		if err := e.silo("rmi", "bench/img:latest"); err != nil {
			b.Fatal(err)
		}
		e.deleteImage(b)
	}
	b.StopTimer()
	mib := float64(e.size) / (1 << 20)
	for name, d := range best {
		b.ReportMetric(mib/d.Seconds(), name+"-MiB/s")
	}
	b.ReportMetric(best["raw-push"].Seconds()/best["silo-push"].Seconds(), "push-vs-raw")
	b.ReportMetric(best["lc-pull"].Seconds()/best["silo-pull"].Seconds(), "pull-vs-lc")
	b.ReportMetric(best["lc-pull+sha256"].Seconds()/best["silo-pull"].Seconds(), "pull-vs-lc+sha256")
}

// env is one benchmark's server, image and client configuration.
type env struct {
	bin, url, img, sum string
	size               int64
	dir                string // scratch for pulled files
	cfg                []string
	lc                 *client.Client
}

func setup(b *testing.B, size int64) *env {
	e := &env{bin: buildSilo(b), dir: b.TempDir()}
	e.url = startServer(b, e.bin)
	e.img = makeSIF(b, size)
	e.sum = fileSHA256(b, e.img)
	fi, err := os.Stat(e.img)
	if err != nil {
		b.Fatal(err)
	}
	e.size = fi.Size()
	e.cfg = append(os.Environ(), "SILO_CONFIGDIR="+filepath.Join(b.TempDir(), "silo"))
	tok := filepath.Join(b.TempDir(), "token")
	if err := os.WriteFile(tok, []byte(adminToken), 0o600); err != nil {
		b.Fatal(err)
	}
	host := strings.TrimPrefix(e.url, "http://")
	for _, args := range [][]string{{"remote", "add", "--insecure", "--no-login", "bench", host},
		{"remote", "login", "--tokenfile", tok}} {
		if err := e.silo(args...); err != nil {
			b.Fatal(err)
		}
	}
	e.lc, err = client.NewClient(&client.Config{BaseURL: e.url, AuthToken: adminToken})
	if err != nil {
		b.Fatal(err)
	}
	// The container exists before the first timed push, for both pushers.
	if err := e.silo("push", "-U", makeSIF(b, 4096), "bench/img:warmup"); err != nil {
		b.Fatal(err)
	}
	return e
}

func (e *env) timed(b *testing.B, f func() error) time.Duration {
	start := time.Now()
	if err := f(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// silo runs the silo binary as a user would.
func (e *env) silo(args ...string) error {
	cmd := exec.Command(e.bin, args...)
	cmd.Env = e.cfg
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("silo %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// call is one Library API request with the admin token; out receives
// the envelope's data.
func (e *env) call(method, p string, body any, out any) (http.Header, error) {
	var r io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.url+p, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s %s: %s %s", method, p, resp.Status, data)
	}
	if out != nil {
		var env struct{ Data json.RawMessage }
		if err := json.Unmarshal(data, &env); err != nil {
			return nil, err
		}
		return resp.Header, json.Unmarshal(env.Data, out)
	}
	return resp.Header, nil
}

// rawPush is the protocol's minimum: hash, create the image, upload its
// parts (Silo appends parts in order), complete, tag.
func (e *env) rawPush() error {
	sum := fileSHA256Err(e.img)
	var con, img struct{ ID string }
	if _, err := e.call("GET", "/v1/containers/"+path, nil, &con); err != nil {
		return err
	}
	if _, err := e.call("POST", "/v1/images", map[string]string{"container": con.ID, "hash": "sha256." + sum}, &img); err != nil {
		return err
	}
	var mp struct {
		UploadID string
		PartSize int64
	}
	if _, err := e.call("POST", "/v2/imagefile/"+img.ID+"/_multipart", map[string]int64{"filesize": e.size}, &mp); err != nil {
		return err
	}
	f, err := os.Open(e.img)
	if err != nil {
		return err
	}
	defer f.Close()
	var parts []map[string]any
	for n, off := 1, int64(0); off < e.size; n, off = n+1, off+mp.PartSize {
		ps := min(mp.PartSize, e.size-off)
		var u struct{ PresignedURL string }
		if _, err := e.call("PUT", "/v2/imagefile/"+img.ID+"/_multipart", map[string]any{"partSize": ps,
			"uploadID": mp.UploadID, "partNumber": n, "sha256sum": ""}, &u); err != nil {
			return err
		}
		req, _ := http.NewRequest("PUT", u.PresignedURL, io.NopCloser(io.NewSectionReader(f, off, ps)))
		req.ContentLength = ps
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("part %d: %s", n, resp.Status)
		}
		parts = append(parts, map[string]any{"partNumber": n, "token": resp.Header.Get("ETag")})
	}
	if _, err := e.call("PUT", "/v2/imagefile/"+img.ID+"/_multipart_complete",
		map[string]any{"uploadID": mp.UploadID, "completedParts": parts}, nil); err != nil {
		return err
	}
	_, err = e.call("POST", "/v2/tags/"+con.ID, map[string]string{"Tag": "latest", "ImageID": img.ID, "Arch": "amd64"}, nil)
	return err
}

// deleteImage removes the pushed image so the next push uploads again.
func (e *env) deleteImage(b *testing.B) {
	if _, err := e.call("DELETE", "/v1/images/"+path+":latest?arch=amd64", nil, nil); err != nil {
		b.Fatal(err)
	}
}

// lcPull is what `singularity pull` does with the library: download with
// ConcurrentDownloadImage (its default concurrency 3, 5 MiB parts), and,
// with hash, read the file back for the sha256 its cache checks.
func (e *env) lcPull(hash bool) error {
	dst := filepath.Join(e.dir, "lc.sif")
	defer os.Remove(dst)
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	spec := &client.Downloader{Concurrency: 3, PartSize: 5 << 20}
	if err := e.lc.ConcurrentDownloadImage(context.Background(), f, "amd64", path, "latest", spec, nil); err != nil {
		return err
	}
	if hash {
		if got := fileSHA256Err(dst); got != e.sum {
			return fmt.Errorf("lc pull: sha256 %s", got)
		}
	}
	return nil
}

// rawPull is one GET of the file into a file.
func (e *env) rawPull() error {
	dst := filepath.Join(e.dir, "raw.sif")
	defer os.Remove(dst)
	resp, err := http.Get(e.url + "/v1/imagefile/" + path + ":latest?arch=amd64")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.CopyBuffer(f, resp.Body, make([]byte, 1<<20))
	return err
}

func fileSHA256(b *testing.B, p string) string {
	s := fileSHA256Err(p)
	if s == "" {
		b.Fatalf("hashing %s", p)
	}
	return s
}

func fileSHA256Err(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, f, make([]byte, 1<<20)); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

func buildSilo(b *testing.B) string {
	bin := filepath.Join(b.TempDir(), "silo")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/silo-hpc/silo/cmd/silo").CombinedOutput(); err != nil {
		b.Fatalf("building silo: %v\n%s", err, out)
	}
	return bin
}

var listeningRe = regexp.MustCompile(`listening on (https?://\S+)`)

// startServer runs `silo serve` on a free loopback port.
func startServer(b *testing.B, bin string) string {
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(b.TempDir(), "data"))
	cmd.Env = append(os.Environ(), "SILO_ADMIN_TOKEN="+adminToken, "SILO_LOG_LEVEL=warn")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if m := listeningRe.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, stderr)
			return m[1]
		}
	}
	b.Fatalf("silo serve exited before listening: %v", sc.Err())
	return ""
}

// makeSIF writes a SIF of about size bytes of pseudo-random data.
func makeSIF(b *testing.B, size int64) string {
	p := filepath.Join(b.TempDir(), "bench.sif")
	data := io.LimitReader(mrand.NewChaCha8([32]byte{byte(size >> 20), byte(size)}), size)
	di, err := sif.NewDescriptorInput(sif.DataPartition, data, sif.OptPartitionMetadata(sif.FsSquash, sif.PartPrimSys, "amd64"))
	if err != nil {
		b.Fatal(err)
	}
	f, err := sif.CreateContainerAtPath(p, sif.OptCreateWithDescriptors(di))
	if err != nil {
		b.Fatal(err)
	}
	if err := f.UnloadContainer(); err != nil {
		b.Fatal(err)
	}
	return p
}
