package libraryapi_test

// Apptainer's `library://` commands use its own fork of the Library client,
// apptainer/container-library-client (docs/protocols/library-api.md, ALC),
// not scs-library-client. These tests drive the server with that fork as
// Apptainer does: following /v1/oci-redirect for pushes, both download
// paths for pulls, search, and delete; and check that what either client
// pushed, the other pulls.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"testing"

	alc "github.com/apptainer/container-library-client/client"
)

type aptClient struct {
	*alc.Client
	rec *recorder
}

// apptainer returns an Apptainer library client for user ("" =
// anonymous) that sees the server's real OCI redirect.
func (e *env) apptainer(user string) *aptClient {
	e.t.Helper()
	rec := &recorder{followRedirect: true}
	c, err := alc.NewClient(&alc.Config{
		BaseURL: e.srv.URL, AuthToken: e.tokens[user], UserAgent: "Apptainer/1.4.5",
		Logger: &logger{}, HTTPClient: &http.Client{Transport: rec},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return &aptClient{Client: c, rec: rec}
}

func (c *aptClient) push(t *testing.T, path, ref, arch string, tags ...string) (*alc.UploadImageComplete, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return c.UploadImage(context.Background(), f, ref, arch, tags, "pushed by apptainer", nil)
}

// pullBoth is libClient.pullBoth with Apptainer's client.
func (c *aptClient) pullBoth(t *testing.T, ref, tag, arch, want string) {
	t.Helper()
	ctx := context.Background()
	pullBothWith(t, ref+":"+tag+" ("+arch+")", want,
		func(w io.Writer) error { return c.DownloadImage(ctx, w, arch, ref, tag, nil) },
		func(f *os.File) error {
			return c.ConcurrentDownloadImage(ctx, f, arch, ref, tag, &alc.Downloader{Concurrency: 3, PartSize: 5 << 20}, nil)
		})
}

func TestApptainerClientPushPullSearchDelete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice := e.apptainer("alice")
	img := makeSIF(t, "amd64", 12<<20, 41) // several parts for the concurrent download
	ref := "alice/apptainer/tool"
	if _, err := alice.push(t, img, ref, "amd64", "latest", "v1"); err != nil {
		t.Fatalf("push: %v", err)
	}
	if !alice.rec.sent("GET /v1/oci-redirect") {
		t.Fatalf("the client never asked for the OCI redirect: %q", alice.rec.reqs)
	}
	if !alice.rec.sent("PATCH /v2/"+ref+"/blobs/uploads/") && !alice.rec.sent("PUT /v2/"+ref+"/blobs/uploads/") {
		t.Fatalf("the push did not go over OCI: %q", alice.rec.reqs)
	}

	// Both tags pull, with both of the client's downloads, by Apptainer's
	// client and by SingularityCE's.
	for _, tag := range []string{"latest", "v1"} {
		alice.pullBoth(t, ref, tag, "amd64", img)
	}
	e.client("").pullBoth(t, ref, "v1", "amd64", img)
	anon := e.apptainer("")
	anon.pullBoth(t, ref, "latest", "amd64", img)

	got, err := anon.GetImage(ctx, "amd64", ref+":latest")
	if err != nil {
		t.Fatalf("GetImage: %v", err)
	}
	if got.Hash != fileHash(t, img) || got.Architecture == nil || *got.Architecture != "amd64" {
		t.Fatalf("GetImage: hash %s arch %v, want %s amd64", got.Hash, got.Architecture, fileHash(t, img))
	}
	found, err := anon.Search(ctx, map[string]string{"value": "apptainer"})
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	if len(found.Collections) != 1 || found.Collections[0].Name != "apptainer" {
		t.Fatalf("search found collections %+v, want alice/apptainer", found.Collections)
	}

	// What SingularityCE's client pushed, Apptainer's pulls.
	other := makeSIF(t, "arm64", 4096, 42)
	e.client("alice").mustPush(t, other, ref, "arm64", "latest")
	anon.pullBoth(t, ref, "latest", "arm64", other)
	alice.pullBoth(t, ref, "latest", "amd64", img)

	// Delete: another user may not; the owner may, once.
	if err := e.apptainer("bob").DeleteImage(ctx, ref+":v1", "amd64"); err == nil {
		t.Fatal("bob deleted alice's image")
	}
	if err := alice.DeleteImage(ctx, ref+":v1", "amd64"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := anon.GetImage(ctx, "amd64", ref+":v1"); !errors.Is(err, alc.ErrNotFound) {
		t.Fatalf("after delete: %v, want not found", err)
	}
}

// TestApptainerClientPrivate: a private collection's image is invisible to
// Apptainer's client without the owner's token, exactly as a missing one.
func TestApptainerClientPrivate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tok := e.tokens["alice"]
	img := makeSIF(t, "amd64", 4096, 43)
	if _, err := e.apptainer("alice").push(t, img, "alice/secret/tool", "amd64", "latest"); err != nil {
		t.Fatalf("push: %v", err)
	}
	var col struct{ ID string }
	e.doJSON("GET", "/v1/collections/alice/secret", tok, nil, &col)
	if st, b := e.doJSON("PUT", "/v1/collections/"+col.ID, tok, `{"private":true}`, nil); st != http.StatusOK {
		t.Fatalf("making the collection private: %d %s", st, b)
	}
	e.apptainer("alice").pullBoth(t, "alice/secret/tool", "latest", "amd64", img)
	for _, user := range []string{"", "bob"} {
		c := e.apptainer(user)
		for _, ref := range []string{"alice/secret/tool", "alice/secret/none", "alice/nothing/tool"} {
			_, err := c.GetImage(ctx, "amd64", ref+":latest")
			if !errors.Is(err, alc.ErrNotFound) {
				t.Errorf("%q GetImage %s: %v, want not found", user, ref, err)
			}
			if err := c.DownloadImage(ctx, new(nopWriter), "amd64", ref, "latest", nil); err == nil {
				t.Errorf("%q downloaded %s", user, ref)
			}
		}
	}
}

type nopWriter struct{}

func (*nopWriter) Write(p []byte) (int, error) { return len(p), nil }
