package sregistryapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// A library:// push pulls with shub:// in every reference form the client
// has (SR §4): no tag, a tag, the entity form, a digest alone, a tag and a
// digest, mixed case; the manifest carries what the client decodes.
func TestShubPullRefForms(t *testing.T) {
	e := newEnv(t)
	one, oneBytes := makeSIF(t, "amd64", 4096, 1)
	two, twoBytes := makeSIF(t, "amd64", 4096, 2)
	e.libPush("alice", one, "alice/tools/app", "latest", "v1")
	e.libPush("alice", two, "alice/tools/app", "v2")
	h1, h2 := sha(oneBytes), sha(twoBytes)
	for _, tc := range []struct {
		uri, tag string
		want     []byte
	}{
		{"shub://HOST/tools/app", "latest", oneBytes},
		{"shub://HOST/tools/app:v2", "v2", twoBytes},
		{"shub://HOST/alice/tools/app:v1", "v1", oneBytes},
		{"shub://HOST/tools/app@" + h2[:32], "v2", twoBytes},
		{"shub://HOST/tools/app:v1@" + h2[:40], "v1", twoBytes},
		{"shub://HOST/Tools/App:v2", "v2", twoBytes},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			got, m, err := e.shub().pull(tc.uri)
			if err != nil {
				t.Fatal(err)
			}
			if !equal(got, tc.want) {
				t.Fatal("pulled bytes differ")
			}
			if m.Commit != sha(tc.want) || m.Name != "app" || m.Tag != tc.tag || m.Version == nil || *m.Version != "sha256."+sha(tc.want) ||
				!strings.HasPrefix(m.Image, e.srv.URL+"/api/download/") {
				t.Fatalf("manifest %+v", m)
			}
		})
	}
	if h1 == h2 {
		t.Fatal("test images are equal")
	}
	// A digest no image has is not found; a malformed one is refused.
	if _, _, err := e.shub().pull("shub://HOST/tools/app@" + strings.Repeat("0", 32)); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("unknown digest: %v", err)
	}
	st, _, b := e.do("GET", "/api/container/tools/app@xyz", "", nil)
	wantDetail(t, st, b, http.StatusBadRequest)
}

// commit is the file's sha256, so Singularity's cache (keyed on it alone)
// downloads new bytes when a tag moves and reuses what it has otherwise.
func TestShubCommitChangesWithBytes(t *testing.T) {
	e := newEnv(t)
	one, oneBytes := makeSIF(t, "amd64", 4096, 1)
	two, twoBytes := makeSIF(t, "amd64", 4096, 2)
	s := e.shub()
	e.libPush("alice", one, "alice/tools/app", "latest")
	if got, _, err := s.pull("shub://HOST/tools/app:latest"); err != nil || !equal(got, oneBytes) {
		t.Fatalf("first pull: %v", err)
	}
	e.libPush("alice", two, "alice/tools/app", "latest")
	got, m, err := s.pull("shub://HOST/tools/app:latest")
	if err != nil || !equal(got, twoBytes) || m.Commit != sha(twoBytes) || s.downloads != 2 {
		t.Fatalf("after the tag moved: %v, %d downloads, commit %s", err, s.downloads, m.Commit)
	}
	if _, _, err := s.pull("shub://HOST/alice/tools/app:latest"); err != nil || s.downloads != 2 {
		t.Fatalf("same bytes again were downloaded again: %v, %d downloads", err, s.downloads)
	}
}

// The image URL answers HEAD and GET without Authorization, with
// Content-Length and ranges, uncompressed, never redirecting; a wrong
// capability is not found.
func TestDownloadURL(t *testing.T) {
	e := newEnv(t)
	path, data := makeSIF(t, "amd64", 100_000, 3)
	e.libPush("alice", path, "alice/tools/app", "latest")
	_, m, err := e.shub().pull("shub://HOST/tools/app")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("HEAD", m.Image, nil)
	res, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.ContentLength != int64(len(data)) || res.Header.Get("Content-Encoding") != "" {
		t.Fatalf("HEAD: %d, length %d", res.StatusCode, res.ContentLength)
	}
	req, _ = http.NewRequest("GET", m.Image, nil)
	req.Header.Set("Range", "bytes=1000-1999")
	req.Header.Set("Accept-Encoding", "gzip")
	res, err = noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 2000)
	n, _ := res.Body.Read(part)
	for n < 1000 {
		k, err := res.Body.Read(part[n:])
		n += k
		if err != nil {
			break
		}
	}
	res.Body.Close()
	if res.StatusCode != http.StatusPartialContent || n != 1000 || !equal(part[:n], data[1000:2000]) {
		t.Fatalf("range: %d, %d bytes", res.StatusCode, n)
	}
	// A range past the end is 416 in sregistry's {"detail"} format.
	req, _ = http.NewRequest("GET", m.Image, nil)
	req.Header.Set("Range", "bytes=999999999-")
	res, err = noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var detail struct{ Detail string }
	err = json.NewDecoder(res.Body).Decode(&detail)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusRequestedRangeNotSatisfiable || detail.Detail == "" {
		t.Fatalf("unsatisfiable range: %d %+v %v", res.StatusCode, detail, err)
	}
	bad := m.Image[:len(m.Image)-1] + map[bool]string{true: "1", false: "0"}[strings.HasSuffix(m.Image, "0")]
	for _, u := range []string{bad, strings.Replace(m.Image, "/download/", "/download/0", 1), m.Image + "/x"} {
		st, _, b := e.do("GET", u, "", nil)
		wantDetail(t, st, b, http.StatusNotFound)
	}
}
