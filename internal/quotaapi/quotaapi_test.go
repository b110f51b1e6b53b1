package quotaapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	"github.com/sylabs/scs-library-client/client"

	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/gc"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/pgtest"
	"github.com/silo-hpc/silo/internal/quota"
	"github.com/silo-hpc/silo/internal/servertest"
	"github.com/silo-hpc/silo/internal/sifinspect/sifinspecttest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

type env struct {
	t      *testing.T
	srv    *servertest.Server
	tokens map[string]string
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, srv: servertest.Start(t), tokens: map[string]string{}}
	for _, u := range []struct {
		name string
		role meta.Role
	}{{"alice", meta.RoleUser}, {"bob", meta.RoleUser}, {"root", meta.RoleAdmin}} {
		_, e.tokens[u.name] = e.srv.User(t, u.name, u.role)
	}
	return e
}

// call sends a JSON API request as user and decodes {"data": out}.
func (e *env) call(method, path, user string, body any, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Data  json.RawMessage
		Error struct{ Message string }
	}
	json.NewDecoder(resp.Body).Decode(&env)
	if out != nil && resp.StatusCode == http.StatusOK {
		json.Unmarshal(env.Data, out)
	}
	return resp.StatusCode
}

func (e *env) usage(path, user string) quota.Report {
	e.t.Helper()
	var r quota.Report
	if code := e.call("GET", path, user, nil, &r); code != http.StatusOK {
		e.t.Fatalf("GET %s as %s = %d", path, user, code)
	}
	return r
}

func (e *env) ref(s string) name.Reference {
	r, err := name.ParseReference(e.srv.Host+"/"+s, name.Insecure)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) ggcr(user string) remote.Option {
	return remote.WithAuth(&authn.Basic{Username: user, Password: e.tokens[user]})
}

func layer(t *testing.T, size int64) v1.Layer {
	l, err := random.Layer(size, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func image(t *testing.T, layers ...v1.Layer) v1.Image {
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// bytesOf is what an image's blobs add up to: config and layers.
func bytesOf(t *testing.T, layers []v1.Layer, imgs ...v1.Image) int64 {
	var n int64
	for _, img := range imgs {
		cfg, _ := img.RawConfigFile()
		n += int64(len(cfg))
	}
	for _, l := range layers {
		s, _ := l.Size()
		n += s
	}
	return n
}

func (e *env) collect() {
	e.t.Helper()
	for range 2 { // links first, then the blobs they held
		if _, err := e.srv.Collector.Collect(context.Background(), gc.Options{Grace: 0}); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) stored(d digest.Digest) bool {
	_, err := e.srv.Blobs.Stat(context.Background(), d)
	return err == nil
}

// The JSON API: admins set, users see their own; others are refused.
func TestAPI(t *testing.T) {
	e := newEnv(t)
	if code := e.call("PUT", "/api/quota/users/alice", "alice", map[string]any{"limit": 10}, nil); code != http.StatusForbidden {
		t.Fatalf("a user set its own quota: %d", code)
	}
	var r quota.Report
	if code := e.call("PUT", "/api/quota/users/alice", "root", map[string]any{"limit": 10 << 20}, &r); code != http.StatusOK ||
		r != (quota.Report{Kind: "user", Name: "alice", Limit: 10 << 20}) {
		t.Fatalf("PUT = %d, %+v", code, r)
	}
	if got := e.usage("/api/quota", "alice"); got.Limit != 10<<20 || got.Name != "alice" {
		t.Fatalf("own quota %+v", got)
	}
	if code := e.call("GET", "/api/quota/users/alice", "bob", nil, nil); code != http.StatusForbidden {
		t.Fatalf("bob read alice's quota: %d", code)
	}
	if code := e.call("GET", "/api/quota", "", nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("anonymous: %d", code)
	}
	for _, bad := range []any{map[string]any{}, map[string]any{"limit": -1}, map[string]any{"limit": 1, "x": 2}} {
		if code := e.call("PUT", "/api/quota/users/alice", "root", bad, nil); code != http.StatusBadRequest {
			t.Fatalf("PUT %v = %d", bad, code)
		}
	}
	if code := e.call("PUT", "/api/quota/users/nobody", "root", map[string]any{"limit": 1}, nil); code != http.StatusNotFound {
		t.Fatalf("unknown user: %d", code)
	}
	// A private collection is as missing to others as one that is not.
	pr := true
	p, _ := e.srv.Auth.CheckToken(context.Background(), e.tokens["alice"])
	ent, _ := e.srv.Library.GetEntity(context.Background(), p, "alice")
	if _, err := e.srv.Library.CreateCollection(context.Background(), p, ent.Entity.ID, "secret", "", &pr); err != nil {
		t.Fatal(err)
	}
	a := e.call("GET", "/api/quota/collections/alice/secret", "bob", nil, nil)
	b := e.call("GET", "/api/quota/collections/alice/nothing", "bob", nil, nil)
	if a != http.StatusNotFound || b != http.StatusNotFound {
		t.Fatalf("private %d, missing %d", a, b)
	}
	var list []quota.Report
	if code := e.call("GET", "/api/quotas", "root", nil, &list); code != http.StatusOK || len(list) != 1 {
		t.Fatalf("list = %d, %+v", code, list)
	}
}

// Usage is exact through a scripted sequence of OCI pushes, a refusal,
// deletes and collections; a refused push leaves nothing once collected.
func TestOCIUsage(t *testing.T) {
	e := newEnv(t)
	l1, l2, l3 := layer(t, 1<<20), layer(t, 1<<20), layer(t, 3<<20/2)
	a, b := image(t, l1), image(t, l1, l2)
	const limit = 3 << 20
	e.call("PUT", "/api/quota/users/alice", "root", map[string]any{"limit": limit}, nil)
	if err := remote.Write(e.ref("alice/app:a"), a, e.ggcr("alice")); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(e.ref("alice/app:b"), b, e.ggcr("alice")); err != nil {
		t.Fatal(err)
	}
	want := bytesOf(t, []v1.Layer{l1, l2}, a, b) // l1 once
	if got := e.usage("/api/quota", "alice"); got.Usage != want {
		t.Fatalf("usage %d, want %d", got.Usage, want)
	}
	// Over the quota: refused at the blob's completion, DENIED.
	c := image(t, l3)
	err := remote.Write(e.ref("alice/other:c"), c, e.ggcr("alice"))
	if err == nil || !strings.Contains(err.Error(), "DENIED") || !strings.Contains(err.Error(), "over quota") {
		t.Fatalf("push over quota: %v", err)
	}
	// A monolithic push of a known size is refused before it is read.
	big := make([]byte, 2<<20)
	req, _ := http.NewRequest("POST", e.srv.URL+"/v2/alice/app/blobs/uploads/?digest="+digest.FromBytes(big).String(), bytes.NewReader(big))
	req.SetBasicAuth("alice", e.tokens["alice"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("monolithic push over quota = %d", resp.StatusCode)
	}
	// The refused push's config fitted and was stored; the refused
	// layers were not linked.
	if got, cfg := e.usage("/api/quota", "alice"), bytesOf(t, nil, c); got.Usage != want && got.Usage != want+cfg {
		t.Fatalf("usage after refusals %d, want %d (+%d)", got.Usage, want, cfg)
	}
	e.collect()
	if got := e.usage("/api/quota", "alice"); got.Usage != want {
		t.Fatalf("usage after refusals and a collection %d, want %d", got.Usage, want)
	}
	d3, _ := l3.Digest()
	cd, _ := c.ConfigName()
	for _, d := range []string{d3.String(), cd.String(), digest.FromBytes(big).String()} {
		if e.stored(digest.Digest(d)) {
			t.Fatalf("a refused push left %s after a collection", d)
		}
	}
	// Deleting b frees l2 and b's config once collected; l1 stays (a).
	bd, _ := b.Digest()
	if err := remote.Delete(e.ref("alice/app@"+bd.String()), e.ggcr("alice")); err != nil {
		t.Fatal(err)
	}
	if got := e.usage("/api/quota", "alice"); got.Usage != want {
		t.Fatalf("usage changed before a collection: %d", got.Usage)
	}
	e.collect()
	want = bytesOf(t, []v1.Layer{l1}, a)
	if got := e.usage("/api/quota", "alice"); got.Usage != want {
		t.Fatalf("usage after delete and collection %d, want %d", got.Usage, want)
	}
	// Now c fits.
	if err := remote.Write(e.ref("alice/other:c"), c, e.ggcr("alice")); err != nil {
		t.Fatalf("push that now fits: %v", err)
	}
	want += bytesOf(t, []v1.Layer{l3}, c)
	if got := e.usage("/api/quota", "alice"); got.Usage != want {
		t.Fatalf("usage %d, want %d", got.Usage, want)
	}
}

func makeSIF(t *testing.T, size int64, seed byte) string {
	return sifinspecttest.RandomSIF(t, fmt.Sprintf("%d.sif", seed), "amd64", size, uint64(seed))
}

// libraryOnly answers the client's OCI probe with a 404, so it pushes
// with the Library API.
type libraryOnly struct{}

func (libraryOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/v1/oci-redirect") {
		return &http.Response{StatusCode: 404, Status: "404 Not Found", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
	}
	return http.DefaultTransport.RoundTrip(r)
}

// Library pushes report the quota in their completion (singularity push
// prints it), count against the collection too, and are refused before
// the upload when the file cannot fit.
func TestLibraryQuota(t *testing.T) {
	e := newEnv(t)
	lc, err := client.NewClient(&client.Config{BaseURL: e.srv.URL, AuthToken: e.tokens["alice"],
		HTTPClient: &http.Client{Transport: libraryOnly{}}})
	if err != nil {
		t.Fatal(err)
	}
	push := func(path, ref string) (*client.UploadImageComplete, error) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		return lc.UploadImage(context.Background(), f, ref, "amd64", []string{"latest"}, "", nil)
	}
	const limit = 4 << 20
	e.call("PUT", "/api/quota/users/alice", "root", map[string]any{"limit": limit}, nil)
	first := makeSIF(t, 1<<20, 1)
	res, err := push(first, "alice/tools/one")
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(first)
	used := fi.Size() + 2 // and the {} config of its OCI view
	if res.Quota.QuotaTotalBytes != limit || res.Quota.QuotaUsageBytes != used {
		t.Fatalf("completion quota = %+v, want total %d usage %d", res.Quota, limit, used)
	}
	// The same content in another container costs nothing more.
	if _, err := push(first, "alice/tools/two"); err != nil {
		t.Fatal(err)
	}
	if got := e.usage("/api/quota", "alice"); got.Usage != used {
		t.Fatalf("usage %d, want %d", got.Usage, used)
	}
	e.call("PUT", "/api/quota/collections/alice/tools", "root", map[string]any{"limit": 2 << 20}, nil)
	if got := e.usage("/api/quota/collections/alice/tools", "alice"); got.Usage != used || got.Limit != 2<<20 {
		t.Fatalf("collection quota %+v", got)
	}
	_, err = push(makeSIF(t, 3<<20/2, 2), "alice/tools/three")
	if err == nil || !strings.Contains(err.Error(), "over quota: collection alice/tools") {
		t.Fatalf("push over the collection's quota: %v", err)
	}
	e.collect()
	var blobs int
	e.srv.Blobs.Walk(context.Background(), func(blob.Info) error { blobs++; return nil })
	if blobs != 2 { // the SIF and {}
		t.Fatalf("%d blobs stored after a refused push and a collection, want 2", blobs)
	}
}

// Concurrent pushes of one owner are charged one after the other: of
// eight blobs of 1 MiB under a 4.5 MiB quota, exactly four are stored.
func TestConcurrentCharges(t *testing.T) {
	e := newEnv(t)
	e.call("PUT", "/api/quota/users/alice", "root", map[string]any{"limit": 9 << 19}, nil)
	codes := make(chan int, 8)
	for i := range 8 {
		go func() {
			b := make([]byte, 1<<20)
			mrand.NewChaCha8([32]byte{byte(i), 7}).Read(b)
			req, _ := http.NewRequest("POST", e.srv.URL+"/v2/alice/many/blobs/uploads/?digest="+digest.FromBytes(b).String(), bytes.NewReader(b))
			req.SetBasicAuth("alice", e.tokens["alice"])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	got := map[int]int{}
	for range 8 {
		got[<-codes]++
	}
	if got[http.StatusCreated] != 4 || got[http.StatusForbidden] != 4 {
		t.Fatalf("answers %v, want 4 created and 4 refused", got)
	}
	if u := e.usage("/api/quota", "alice"); u.Usage != 4<<20 {
		t.Fatalf("usage %d, want %d", u.Usage, 4<<20)
	}
}
