package ociapi

import (
	"regexp"
	"testing"
)

// parsePath routes exactly as the spec's path grammar read with regular
// expressions would (the name is the longest prefix before a resource).
func TestParsePathMatchesRegexps(t *testing.T) {
	res := map[shape]*regexp.Regexp{
		uploadsShape:   regexp.MustCompile(`^/v2/(.+)/blobs/uploads/?$`),
		sessionShape:   regexp.MustCompile(`^/v2/(.+)/blobs/uploads/([^/]+)$`),
		blobShape:      regexp.MustCompile(`^/v2/(.+)/blobs/([^/]+)$`),
		manifestShape:  regexp.MustCompile(`^/v2/(.+)/manifests/([^/]+)$`),
		tagsShape:      regexp.MustCompile(`^/v2/(.+)/tags/list$`),
		referrersShape: regexp.MustCompile(`^/v2/(.+)/referrers/([^/]+)$`),
	}
	order := []shape{uploadsShape, sessionShape, blobShape, manifestShape, tagsShape, referrersShape}
	segments := []string{"a", "blobs", "uploads", "manifests", "tags", "list", "referrers", "x", ""}
	var paths []string
	var gen func(p string, n int)
	gen = func(p string, n int) {
		paths = append(paths, p)
		if n == 0 {
			return
		}
		for _, s := range segments {
			gen(p+"/"+s, n-1)
		}
	}
	gen("/v2", 5)
	for _, p := range paths {
		want, wantName, wantParam := noShape, "", ""
		for _, sh := range order {
			if m := res[sh].FindStringSubmatch(p); m != nil {
				want, wantName = sh, m[1]
				if len(m) > 2 {
					wantParam = m[2]
				}
				break
			}
		}
		got, name, param := parsePath(p)
		if got != want || name != wantName || param != wantParam {
			t.Errorf("%q: got %d %q %q, want %d %q %q", p, got, name, param, want, wantName, wantParam)
		}
	}
}
