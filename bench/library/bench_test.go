// Package library benchmarks Library API push and pull end to end: a real
// `silo serve` process on loopback, driven by scs-library-client (what
// `singularity push/pull` use), with the server's peak RSS read from
// /proc so one can see memory does not grow with image size.
//
//	go test ./bench/library -run '^$' -bench . -benchtime 1x
//
// The client is kept on the Library API (its OCI probe is answered 404
// locally); BENCH_OCI=1 lets it follow the server's OCI redirect instead.
package library

import (
	"bufio"
	"context"
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

const adminToken = "bench-admin-token-0123456789abcdef"

// BenchmarkPushPull pushes and pulls one SIF per size; each size gets a
// fresh server so its peak RSS belongs to that size alone.
func BenchmarkPushPull(b *testing.B) {
	bin := buildSilo(b)
	for _, size := range []int64{64 << 20, 1 << 30} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			srv := startServer(b, bin)
			img := makeSIF(b, size)
			c, err := client.NewClient(&client.Config{BaseURL: srv.url, AuthToken: adminToken, HTTPClient: httpClient()})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(size)
			b.ResetTimer()
			var push, pull, discard time.Duration
			for i := 0; i < b.N; i++ {
				push += timed(b, func() error { return pushFile(c, img) })
				pull += timed(b, func() error { return pullFile(b, c) })
				discard += timed(b, func() error {
					return c.DownloadImage(context.Background(), io.Discard, "amd64", "admin/bench/img", "latest", nil)
				})
				b.StopTimer()
				// Delete so the next iteration uploads again instead of
				// finding the image present.
				if err := c.DeleteImage(context.Background(), "admin/bench/img:latest", "amd64"); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			mib := float64(size) * float64(b.N) / (1 << 20)
			b.ReportMetric(mib/push.Seconds(), "push-MiB/s")
			b.ReportMetric(mib/pull.Seconds(), "pull-MiB/s")
			b.ReportMetric(mib/discard.Seconds(), "pull-discard-MiB/s")
			b.ReportMetric(float64(srv.peakRSS(b))/(1<<20), "server-peak-RSS-MiB")
		})
	}
}

// noOCI answers the client's OCI probe with 404, as a server without OCI.
type noOCI struct{}

func (noOCI) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/v1/oci-redirect") {
		return &http.Response{StatusCode: http.StatusNotFound, Body: http.NoBody, Request: req, Header: http.Header{}}, nil
	}
	return http.DefaultTransport.RoundTrip(req)
}

func httpClient() *http.Client {
	if os.Getenv("BENCH_OCI") == "1" {
		return http.DefaultClient
	}
	return &http.Client{Transport: noOCI{}}
}

func timed(b *testing.B, f func() error) time.Duration {
	start := time.Now()
	if err := f(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

func pushFile(c *client.Client, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = c.UploadImage(context.Background(), f, "admin/bench/img", "amd64", []string{"latest"}, "bench", nil)
	return err
}

func pullFile(b *testing.B, c *client.Client) error {
	f, err := os.Create(filepath.Join(b.TempDir(), "pulled.sif"))
	if err != nil {
		return err
	}
	defer f.Close()
	spec := &client.Downloader{Concurrency: 3, PartSize: 5 << 20}
	return c.ConcurrentDownloadImage(context.Background(), f, "amd64", "admin/bench/img", "latest", spec, nil)
}

func buildSilo(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "silo")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/silo-hpc/silo/cmd/silo")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building silo: %v\n%s", err, out)
	}
	return bin
}

type server struct {
	cmd *exec.Cmd
	url string
}

var listeningRe = regexp.MustCompile(`listening on (https?://\S+)`)

// startServer runs `silo serve` on a free loopback port and waits for
// the line that says where it listens.
func startServer(b *testing.B, bin string) *server {
	b.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(b.TempDir(), "data"))
	// BENCH_SERVER_LOG=file keeps the server's request log (durations per
	// request) for a closer look.
	logTo, level := io.Discard, "warn"
	if p := os.Getenv("BENCH_SERVER_LOG"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		logTo, level = f, "info"
	}
	cmd.Env = append(os.Environ(), "SILO_ADMIN_TOKEN="+adminToken, "SILO_LOG_LEVEL="+level)
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
			go io.Copy(logTo, stderr) // keep the pipe drained
			return &server{cmd: cmd, url: m[1]}
		}
	}
	b.Fatalf("silo serve exited before listening: %v", sc.Err())
	return nil
}

// peakRSS reads the server's high-water resident set size (VmHWM).
func (s *server) peakRSS(b *testing.B) int64 {
	b.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmHWM in /proc status")
	return 0
}

// makeSIF writes a SIF of about size bytes of pseudo-random data (so
// nothing compresses or deduplicates), streamed from the generator.
func makeSIF(b *testing.B, size int64) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.sif")
	data := io.LimitReader(mrand.NewChaCha8([32]byte{byte(size >> 20)}), size)
	di, err := sif.NewDescriptorInput(sif.DataPartition, data, sif.OptPartitionMetadata(sif.FsSquash, sif.PartPrimSys, "amd64"))
	if err != nil {
		b.Fatal(err)
	}
	f, err := sif.CreateContainerAtPath(path, sif.OptCreateWithDescriptors(di))
	if err != nil {
		b.Fatal(err)
	}
	if err := f.UnloadContainer(); err != nil {
		b.Fatal(err)
	}
	return path
}
