// Command concurrency measures registries under concurrent load, side by
// side (run.sh starts Silo and the distribution registry, and zot when
// ZOT_BIN names a binary): many clients GETting one manifest, and several
// clients each pushing fresh 64 KiB blobs (POST + PUT). Rounds interleave
// the targets and the best round counts; it prints requests per second,
// errors, and each target's ratio to the last one.
//
// Usage: go run ./bench/concurrency -target silo=http://127.0.0.1:P,user,token -target distribution=http://127.0.0.1:Q
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
)

type target struct {
	name, base, user, pass string
	client                 *http.Client
}

type targets []*target

func (t *targets) String() string { return fmt.Sprint(*t) }
func (t *targets) Set(v string) error {
	name, rest, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want name=url[,user,pass]")
	}
	parts := strings.Split(rest, ",")
	tg := &target{name: name, base: parts[0],
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}}
	if len(parts) == 3 {
		tg.user, tg.pass = parts[1], parts[2]
	}
	*t = append(*t, tg)
	return nil
}

// result is one case's rate and error count on one target.
type result struct {
	rate   float64
	errors int64
}

func main() {
	var tgs targets
	flag.Var(&tgs, "target", "name=url[,user,pass] (repeat; ratios are against the last one)")
	getClients := flag.Int("get-clients", 16, "clients GETting one manifest")
	pushClients := flag.Int("push-clients", 8, "clients pushing 64 KiB blobs")
	dur := flag.Duration("duration", 10*time.Second, "length of each measurement")
	rounds := flag.Int("rounds", 3, "repetitions; the best round counts")
	only := flag.String("only", "", "run only the cases whose name contains this")
	flag.Parse()
	if len(tgs) == 0 {
		fmt.Fprintln(os.Stderr, "no -target")
		os.Exit(2)
	}
	cases := []string{"GET manifest x1", fmt.Sprintf("GET manifest x%d", *getClients), fmt.Sprintf("push 64KiB x%d", *pushClients)}
	best := map[string]map[string]result{}
	for _, tg := range tgs {
		best[tg.name] = map[string]result{}
		must(setup(tg))
	}
	for r := 0; r < *rounds; r++ {
		for _, tg := range tgs {
			for i, c := range cases {
				if !strings.Contains(c, *only) {
					continue
				}
				var res result
				switch i {
				case 0:
					res = load(1, *dur, func(int) error { return getManifest(tg) })
				case 1:
					res = load(*getClients, *dur, func(int) error { return getManifest(tg) })
				case 2:
					res = load(*pushClients, *dur, func(w int) error { return pushBlob(tg, fmt.Sprintf("bench/push%d", w)) })
				}
				if res.rate > best[tg.name][c].rate {
					best[tg.name][c] = res
				}
			}
		}
	}
	report(tgs, cases, best)
}

func report(tgs targets, cases []string, best map[string]map[string]result) {
	last := tgs[len(tgs)-1].name
	fmt.Printf("%-20s", "req/s (errors)")
	for _, tg := range tgs {
		fmt.Printf("%22s", tg.name)
	}
	fmt.Println()
	for _, c := range cases {
		if best[last][c].rate == 0 {
			continue
		}
		fmt.Printf("%-20s", c)
		for _, tg := range tgs {
			r := best[tg.name][c]
			fmt.Printf("%14.0f (%d) %4.2fx", r.rate, r.errors, r.rate/best[last][c].rate)
		}
		fmt.Println()
	}
}

// load runs n workers calling op for d and returns successes per second.
func load(n int, d time.Duration, op func(worker int) error) result {
	var ok, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := op(w); err != nil {
					if failed.Add(1) == 1 {
						fmt.Fprintln(os.Stderr, "bench:", err)
					}
					continue
				}
				ok.Add(1)
			}
		}(w)
	}
	time.Sleep(d)
	close(stop)
	wg.Wait()
	return result{rate: float64(ok.Load()) / time.Since(start).Seconds(), errors: failed.Load()}
}

const manifestType = "application/vnd.oci.image.manifest.v1+json"

// setup pushes the image whose manifest the GET case reads.
func setup(tg *target) error {
	cfg, layer := []byte(`{"architecture":"amd64","os":"linux"}`), make([]byte, 4096)
	_, _ = rand.Read(layer)
	for _, b := range [][]byte{cfg, layer} {
		if err := pushWhole(tg, "bench/get", b); err != nil {
			return err
		}
	}
	m, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": manifestType,
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest.FromBytes(cfg), "size": len(cfg)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest.FromBytes(layer), "size": len(layer)}},
	})
	_, err := do(tg, "PUT", "/v2/bench/get/manifests/v1", m, manifestType, 201)
	return err
}

func getManifest(tg *target) error {
	_, err := do(tg, "GET", "/v2/bench/get/manifests/v1", nil, "", 200)
	return err
}

// pushBlob pushes fresh random bytes, so nothing deduplicates.
func pushBlob(tg *target, repo string) error {
	b := make([]byte, 64<<10)
	_, _ = rand.Read(b)
	return pushWhole(tg, repo, b)
}

// pushWhole is what oras, skopeo and podman do: POST, then PUT the whole
// blob with its digest.
func pushWhole(tg *target, repo string, b []byte) error {
	resp, err := do(tg, "POST", "/v2/"+repo+"/blobs/uploads/", nil, "", 202)
	if err != nil {
		return err
	}
	loc := resp.Header.Get("Location")
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	_, err = do(tg, "PUT", loc+sep+"digest="+digest.FromBytes(b).String(), b, "application/octet-stream", 201)
	return err
}

func do(tg *target, method, u string, body []byte, contentType string, want int) (*http.Response, error) {
	if !strings.HasPrefix(u, "http") {
		u = tg.base + u
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if method == "GET" {
		req.Header.Set("Accept", manifestType)
	}
	if tg.user != "" {
		req.SetBasicAuth(tg.user, tg.pass)
	}
	resp, err := tg.client.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %s: status %d, want %d", tg.name, method, u, resp.StatusCode, want)
	}
	return resp, nil
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
