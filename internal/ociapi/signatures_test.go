package ociapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/memory"

	"github.com/silo-hpc/silo/internal/keyserver/keyservertest"
	"github.com/silo-hpc/silo/internal/meta"
)

// orasPush pushes a SIF artifact with oras-go as user to repo:tag.
func orasPush(t *testing.T, e *env, repo, tag, user, pass string, sifBytes []byte) error {
	t.Helper()
	ctx := context.Background()
	src := memory.New()
	mdesc, _ := sifArtifact(t, src, sifBytes, "app.sif")
	if err := src.Tag(ctx, mdesc, tag); err != nil {
		t.Fatal(err)
	}
	_, err := oras.Copy(ctx, src, tag, e.orasRepo(repo, user, pass), tag, oras.DefaultCopyOptions)
	return err
}

// libraryImage reads what the Library API says of repo:tag's signatures.
func libraryImage(t *testing.T, e *env, ref, token string) (status int, verified bool, statuses string) {
	t.Helper()
	resp, body := e.do(req{method: "GET", path: "/v1/images/" + ref, bearer: token})
	var img struct {
		Data struct {
			Verified   bool
			Signatures []struct{ Status string }
		}
	}
	_ = json.Unmarshal(body, &img)
	var s []string
	for _, sig := range img.Data.Signatures {
		s = append(s, sig.Status)
	}
	return resp.StatusCode, img.Data.Verified, strings.Join(s, ",")
}

// SIF artifacts pushed over OCI (oras-go, and scs-library-client through
// the OCI redirect) get their signatures checked like Library uploads,
// and a collection's signature policy refuses them with OCI's DENIED;
// nothing of a refused push is stored.
func TestSignaturePolicyOCI(t *testing.T) {
	e := newEnv(t)
	pass, tok := e.user("alice", meta.RoleUser)
	key := keyservertest.NewEntity(t, "Alice", "alice@example.org")
	other := keyservertest.NewEntity(t, "Other", "other@example.org")
	keyservertest.Push(t, e.srv.URL, tok, key)
	fp := fmt.Sprintf("%X", key.PrimaryKey.Fingerprint)

	if err := orasPush(t, e, "alice/secure/app", "v1", "alice", pass, keyservertest.SIF(t, 1, false, key)); err != nil {
		t.Fatal(err)
	}
	if err := orasPush(t, e, "alice/secure/app", "foreign", "alice", pass, keyservertest.SIF(t, 2, false, other)); err != nil {
		t.Fatal(err)
	}
	if st, ok, s := libraryImage(t, e, "alice/secure/app:v1", tok); st != 200 || !ok || s != "verified" {
		t.Fatalf("oras push, verified: %d %v %s", st, ok, s)
	}
	if st, ok, s := libraryImage(t, e, "alice/secure/app:foreign", tok); st != 200 || ok || s != "unknown_key" {
		t.Fatalf("oras push, unknown key: %d %v %s", st, ok, s)
	}

	_, body := e.must(200, req{method: "GET", path: "/v1/collections/alice/secure", bearer: tok})
	var col struct{ Data struct{ ID string } }
	if err := json.Unmarshal(body, &col); err != nil {
		t.Fatal(err)
	}
	e.must(200, req{method: "PUT", path: "/v1/signature-policies/" + col.Data.ID, bearer: tok,
		body: []byte(`{"fingerprints":["` + fp + `"]}`)})

	for _, tc := range []struct {
		tag  string
		sif  []byte
		why  string
		oras bool
	}{
		{"unknown", keyservertest.SIF(t, 3, false, other), "no key with this fingerprint is held here", true},
		{"tampered", keyservertest.SIF(t, 4, true, key), "does not verify", true},
		{"unsigned", keyservertest.SIF(t, 5, false), "the image is not signed", true},
		// scs-library-client, sent over OCI by the server's redirect.
		{"redirected", keyservertest.SIF(t, 6, false), "the image is not signed", false},
	} {
		var err error
		if tc.oras {
			err = orasPush(t, e, "alice/secure/app", tc.tag, "alice", pass, tc.sif)
		} else {
			f := e.front(false)
			path := filepath.Join(t.TempDir(), "x.sif")
			os.WriteFile(path, tc.sif, 0o644)
			fh, _ := os.Open(path)
			_, err = scsClient(t, f.ts.URL, tok).UploadImage(context.Background(), fh, "alice/secure/app", "amd64", []string{tc.tag}, "", nil)
			fh.Close()
			if !f.sent("PATCH /v2/alice/secure/app/blobs/uploads/") {
				t.Fatalf("the client did not push over OCI: %v", f.log)
			}
		}
		switch {
		case err == nil:
			t.Fatalf("push %s was accepted", tc.tag)
		case !tc.oras:
			// scs-library-client's OCI path prints the status alone.
			if !strings.Contains(err.Error(), "403") {
				t.Fatalf("push %s: %v", tc.tag, err)
			}
		case !strings.Contains(err.Error(), "accepts only images with a valid signature by "+fp) ||
			!strings.Contains(err.Error(), tc.why) || !strings.Contains(err.Error(), "denied"):
			t.Fatalf("push %s: %v", tc.tag, err)
		}
		e.must(404, req{method: "HEAD", path: "/v2/alice/secure/app/manifests/" + tc.tag})
		if st, _, _ := libraryImage(t, e, "alice/secure/app:"+tc.tag, tok); st != 404 {
			t.Fatalf("refused %s is in the library: %d", tc.tag, st)
		}
	}
	if err := orasPush(t, e, "alice/secure/app", "v2", "alice", pass, keyservertest.SIF(t, 7, false, key)); err != nil {
		t.Fatalf("a valid push: %v", err)
	}
	// Images stored before the policy stay, and the policy's view says
	// which would now be refused.
	_, body = e.must(200, req{method: "GET", path: "/v1/signature-policies/" + col.Data.ID, bearer: tok})
	var pol struct{ Data struct{ Failing int } }
	if err := json.Unmarshal(body, &pol); err != nil || pol.Data.Failing != 1 {
		t.Fatalf("policy view: %s", body)
	}
	e.must(200, req{method: "HEAD", path: "/v2/alice/secure/app/manifests/foreign"})
}
