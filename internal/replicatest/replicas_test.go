package replicatest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/opencontainers/go-digest"
	"github.com/sylabs/scs-library-client/client"

	"github.com/silo-hpc/silo/internal/config"
	"github.com/silo-hpc/silo/internal/sifinspect/sifinspecttest"
)

// makeSIF writes a SIF whose primary partition is size seeded
// pseudo-random bytes, streamed from the generator.
func makeSIF(t testing.TB, size int64, seed uint64) string {
	return sifinspecttest.RandomSIF(t, fmt.Sprintf("img-%d.sif", seed), "amd64", size, seed)
}

func fileSHA256(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

// libraryOnly answers the client's OCI probe with a 404, so it pushes
// with the Library API's own multipart upload.
type libraryOnly struct{}

func (libraryOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/v1/oci-redirect") {
		return &http.Response{StatusCode: http.StatusNotFound, Status: "404 Not Found", Proto: "HTTP/1.1",
			ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
	}
	return http.DefaultTransport.RoundTrip(r)
}

// library returns a scs-library-client of base for user.
func (c *cluster) library(base, user string) *client.Client {
	c.t.Helper()
	lc, err := client.NewClient(&client.Config{BaseURL: base, AuthToken: c.tokens[user],
		HTTPClient: &http.Client{Transport: libraryOnly{}}})
	if err != nil {
		c.t.Fatal(err)
	}
	return lc
}

// pullSHA256 downloads ref:tag from base and returns the file's sha256.
func (c *cluster) pullSHA256(base, ref, tag string) string {
	c.t.Helper()
	var buf bytes.Buffer
	if err := c.library(base, "alice").DownloadImage(context.Background(), &buf, "amd64", ref, tag, nil); err != nil {
		c.t.Fatalf("pull %s:%s from %s: %v", ref, tag, base, err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return hex.EncodeToString(sum[:])
}

// A Library multipart push whose parts go to different replicas (the
// upload's state lives in the database; its bytes in the bucket) pulls
// from each replica.
func TestLibraryMultipartAcrossReplicas(t *testing.T) {
	c := newCluster(t, 2)
	path := makeSIF(t, 70<<20, 1) // two Library parts of 64 MiB
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := c.library(c.URL, "alice").UploadImage(context.Background(), f, "alice/rep/img", "amd64",
		[]string{"latest"}, "", nil); err != nil {
		t.Fatalf("push through the balancer: %v", err)
	}
	if parts := c.lb.replicasFor("PUT /v2/_upload/"); len(parts) != 2 || !both(parts) {
		t.Fatalf("parts went to replicas %v, want one part on each", parts)
	}
	want := fileSHA256(t, path)
	for i, r := range c.replicas {
		if got := c.pullSHA256(r.URL, "alice/rep/img", "latest"); got != want {
			t.Fatalf("replica %d serves %s, pushed %s", i, got, want)
		}
	}
}

// basic authenticates raw OCI requests with an API token.
func (c *cluster) do(method, url, user string, body []byte, header map[string]string) *http.Response {
	c.t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body == nil {
		req.Body, req.ContentLength = nil, 0
	}
	req.SetBasicAuth(user, c.tokens[user])
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// An OCI chunked upload whose chunks alternate between replicas: each
// chunk's request finds the session, its offset and its hash state where
// the previous replica left them.
func TestOCIChunksAcrossReplicas(t *testing.T) {
	c := newCluster(t, 2)
	blob := make([]byte, 13<<20+7)
	mrand.NewChaCha8([32]byte{9}).Read(blob)
	chunks := [][2]int{{0, 3 << 20}, {3 << 20, 4<<20 + 1}, {4<<20 + 1, 11 << 20}, {11 << 20, len(blob)}}
	resp := c.do("POST", c.URL+"/v2/alice/chunky/blobs/uploads/", "alice", nil, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST = %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "http") {
		loc = c.URL + loc
	}
	for _, ch := range chunks {
		resp = c.do("PATCH", loc, "alice", blob[ch[0]:ch[1]], map[string]string{
			"Content-Type": "application/octet-stream", "Content-Range": fmt.Sprintf("%d-%d", ch[0], ch[1]-1)})
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("PATCH %v = %d", ch, resp.StatusCode)
		}
		if loc = resp.Header.Get("Location"); !strings.HasPrefix(loc, "http") {
			loc = c.URL + loc
		}
	}
	if rs := c.lb.replicasFor("PATCH /v2/alice/chunky/blobs/uploads/"); len(rs) != len(chunks) || !both(rs) {
		t.Fatalf("chunks went to replicas %v", rs)
	}
	d := digest.FromBytes(blob)
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	if resp = c.do("PUT", loc+sep+"digest="+d.String(), "alice", nil, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("closing PUT = %d", resp.StatusCode)
	}
	for i, r := range c.replicas {
		req, _ := http.NewRequest("GET", r.URL+"/v2/alice/chunky/blobs/"+d.String(), nil)
		req.SetBasicAuth("alice", c.tokens["alice"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, blob) {
			t.Fatalf("replica %d: GET blob = %d, %d bytes", i, resp.StatusCode, len(got))
		}
	}
}

func (c *cluster) ref(host, s string) name.Reference {
	c.t.Helper()
	r, err := name.ParseReference(host+"/"+s, name.Insecure)
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}

func (c *cluster) ggcr(user string) []remote.Option {
	return []remote.Option{remote.WithAuth(&authn.Basic{Username: user, Password: c.tokens[user]})}
}

// Sixteen clients push different images to one tag at once, through the
// balancer (every push's requests spread over both replicas): afterwards
// both replicas name the same image, one of those pushed, and serve all of
// it.
func TestConcurrentPushesOfOneTag(t *testing.T) {
	c := newCluster(t, 2)
	const pushes = 16
	imgs := make([]v1.Image, pushes)
	pushed := map[v1.Hash]bool{}
	for i := range imgs {
		img, err := random.Image(64<<10, 2)
		if err != nil {
			t.Fatal(err)
		}
		imgs[i] = img
		d, _ := img.Digest()
		pushed[d] = true
	}
	var wg sync.WaitGroup
	errs := make([]error, pushes)
	for i, img := range imgs {
		wg.Go(func() { errs[i] = remote.Write(c.ref(c.Host, "alice/app:latest"), img, c.ggcr("alice")...) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("push %d: %v", i, err)
		}
	}
	var tagged []v1.Hash
	for i, r := range c.replicas {
		img, err := remote.Image(c.ref(r.Host, "alice/app:latest"), c.ggcr("alice")...)
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		d, _ := img.Digest()
		if !pushed[d] {
			t.Fatalf("replica %d tags %s, which no one pushed", i, d)
		}
		if err := validate.Image(img); err != nil {
			t.Fatalf("replica %d serves a broken image: %v", i, err)
		}
		tagged = append(tagged, d)
	}
	if tagged[0] != tagged[1] {
		t.Fatalf("the replicas disagree on the tag: %v", tagged)
	}
}

// With s3.public_endpoint set, downloads are redirected to S3 (OCI 307,
// Library 303) and both clients fetch the bytes from there.
func TestPresignedDownloads(t *testing.T) {
	c := newCluster(t, 1, func(cfg *config.Config) { cfg.S3.PublicEndpoint = cfg.S3.Endpoint })
	r := c.replicas[0]
	path := makeSIF(t, 1<<20, 5)
	f, _ := os.Open(path)
	defer f.Close()
	if _, err := c.library(r.URL, "alice").UploadImage(context.Background(), f, "alice/rep/dl", "amd64", []string{"latest"}, "", nil); err != nil {
		t.Fatal(err)
	}
	if got, want := c.pullSHA256(r.URL, "alice/rep/dl", "latest"), fileSHA256(t, path); got != want {
		t.Fatalf("pulled %s, pushed %s", got, want)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", r.URL+"/v1/imagefile/alice/rep/dl:latest?arch=amd64", nil)
	req.Header.Set("Authorization", "Bearer "+c.tokens["alice"])
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), c.S3.Endpoint+"/") {
		t.Fatalf("library download = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	img, err := random.Image(1<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(c.ref(r.Host, "alice/dl:v1"), img, c.ggcr("alice")...); err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(c.ref(r.Host, "alice/dl:v1"), c.ggcr("alice")...)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Fatalf("an image pulled through redirects: %v", err)
	}
	layers, _ := got.Layers()
	ld, _ := layers[0].Digest()
	req, _ = http.NewRequest("GET", r.URL+"/v2/alice/dl/blobs/"+ld.String(), nil)
	req.SetBasicAuth("alice", c.tokens["alice"])
	if resp, err = noFollow.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(resp.Header.Get("Location"), c.S3.Endpoint+"/") {
		t.Fatalf("OCI blob GET = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}
