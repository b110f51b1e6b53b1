package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/client"
)

// The shub client against a stand-in that answers as
// docs/protocols/sregistry-api.md §5.1 and §5.6 describe the reference
// sregistry server (Silo's own is internal/cli's TestPullShub's): its
// manifest shape, its download URL, and the commit field the notes ask
// servers to add.
func TestShubManifestAndDownload(t *testing.T) {
	data, sum := payload(10_000)
	var url string
	url = serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/container/dinosaur/tacos:latest":
			if r.Header.Get("Authorization") != "" {
				t.Error("shub requests carry no credentials")
			}
			w.Write([]byte(`{"id":1,"name":"tacos","image":"` + url + `/containers/1/download/secret","tag":"latest",` +
				`"version":"sha256.` + sum + `","frozen":false,"metadata":{},"collection":"dinosaur"}`))
		case "/containers/1/download/secret":
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
		default:
			http.NotFound(w, r)
		}
	})
	ctx := context.Background()
	sh := client.Shub{Base: url}
	m, err := sh.Manifest(ctx, "dinosaur", "tacos", "latest", "")
	if err != nil || m.SHA256() != sum || m.Collection != "dinosaur" {
		t.Fatalf("manifest %+v, %v", m, err)
	}
	size := sh.Size(ctx, m.Image)
	if size != int64(len(data)) {
		t.Fatalf("size %d", size)
	}
	dest := t.TempDir() + "/t.sif"
	if _, err := (client.Download{URL: m.Image, Doer: sh, Size: size, SHA256: m.SHA256(), Dest: dest}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	checkFile(t, dest, data)
	if _, err := sh.Manifest(ctx, "dinosaur", "nope", "latest", ""); !client.IsNotFound(err) ||
		!strings.Contains(err.Error(), "the requested manifest was not found") {
		t.Errorf("missing: %v", err)
	}
	// A 64-hex commit (what the notes ask servers to add) is a hash too;
	// null version and no commit: nothing to verify against.
	for body, want := range map[string]string{
		`{"image":"http://x/i","version":null,"commit":"` + sum + `"}`: sum,
		`{"image":"http://x/i","version":null}`:                        "",
		`{"image":"http://x/i","version":"0123abcd"}`:                  "",
	} {
		var m client.ShubManifest
		if err := jsonUnmarshal(body, &m); err != nil || m.SHA256() != want {
			t.Errorf("%s: %q %v", body, m.SHA256(), err)
		}
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
