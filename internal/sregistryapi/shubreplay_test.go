package sregistryapi_test

// shub replays `singularity pull --no-https shub://...` of SingularityCE
// 4.x and Apptainer 1.4 (the same code, SR §4): ParseReference,
// GetManifest, the reference check, the cache keyed by the manifest's
// commit, and DownloadImage.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// shubRefRe is Singularity's isShubPullRef (SR §4).
var shubRefRe = regexp.MustCompile(`^(shub://)([-.a-zA-Z0-9/]{1,64}/)?([-a-zA-Z0-9]{1,39}/)([-_.a-zA-Z0-9]{1,64})(:[-_.a-zA-Z0-9]{1,64})?((@[a-f0-9]{32})|(@[a-f0-9]{40}))?$`)

type shub struct {
	t testing.TB
	// host is the server's host:port. The real client refuses a port
	// (SR §4): the reference check runs on the URI with a port-less host.
	host      string
	cache     map[string][]byte // $SINGULARITY_CACHEDIR/cache/shub/<commit>
	downloads int
}

func (e *env) shub() *shub {
	return &shub{t: e.t, host: e.srv.Host, cache: map[string][]byte{}}
}

// shubManifest is what GetManifest decodes: all strings (SR §4).
type shubManifest struct {
	Image   string  `json:"image"`
	Name    string  `json:"name"`
	Tag     string  `json:"tag"`
	Version *string `json:"version"`
	Commit  string  `json:"commit"`
}

// pull pulls "shub://HOST/..." and returns the bytes, or the error the
// client would print.
func (s *shub) pull(uri string) ([]byte, shubManifest, error) {
	s.t.Helper()
	rest := strings.TrimPrefix(uri, "shub://HOST/")
	parts := strings.Split(s.host+"/"+rest, "/")
	if len(parts) < 3 {
		s.t.Fatalf("bad test uri %s", uri)
	}
	registry := strings.Join(parts[:len(parts)-2], "/") + "/api/container/"
	last := parts[len(parts)-1]
	if !strings.ContainsAny(last, ":@") {
		last += ":latest"
	}
	url := "http://" + registry + parts[len(parts)-2] + "/" + last
	res, body := s.get(url)
	var m shubManifest
	switch {
	case res.StatusCode == http.StatusNotFound:
		return nil, m, fmt.Errorf("the requested manifest was not found in singularity hub")
	case res.StatusCode != http.StatusOK:
		return nil, m, fmt.Errorf("%s", res.Status)
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, m, fmt.Errorf("manifest: %v", err)
	}
	// DownloadImage checks the reference only now, after the manifest.
	if !shubRefRe.MatchString(strings.Replace(uri, "HOST", "registry.example.org", 1)) {
		return nil, m, fmt.Errorf("Invalid shub URI")
	}
	if m.Commit == "" || strings.Contains(m.Commit, "/") {
		return nil, m, fmt.Errorf("unable to check if %s exists in cache", m.Commit)
	}
	if b, ok := s.cache[m.Commit]; ok {
		return b, m, nil
	}
	// --no-https forces the image URL to http too.
	image := strings.Replace(m.Image, "https://", "http://", 1)
	res, b := s.get(image)
	s.downloads++
	switch {
	case res.StatusCode == http.StatusNotFound:
		return nil, m, fmt.Errorf("the requested image was not found in singularity hub")
	case res.StatusCode != http.StatusOK:
		return nil, m, fmt.Errorf("download did not succeed: %d", res.StatusCode)
	case res.ContentLength < 0 || res.Uncompressed:
		return nil, m, fmt.Errorf("unknown image length")
	case res.ContentLength != int64(len(b)):
		return nil, m, fmt.Errorf("image received is not the right size")
	}
	s.cache[m.Commit] = b
	return b, m, nil
}

// get is the client's GET: its User-Agent, Go's default transport (which
// asks for gzip), redirects followed, no Authorization.
func (s *shub) get(url string) (*http.Response, []byte) {
	s.t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("User-Agent", "Singularity/4.5.0 (Linux amd64) Go/1.26.8")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return res, b
}
