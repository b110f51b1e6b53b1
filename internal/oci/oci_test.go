package oci

import (
	"regexp"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/apperr"
)

// nameRe is the spec's grammar as a regular expression, to check the
// hand-written ValidName against.
var nameRe = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)

func TestNameMatchesGrammar(t *testing.T) {
	alphabet := []byte("ab0._-/A ")
	var names []string
	var gen func(prefix []byte, n int)
	gen = func(prefix []byte, n int) {
		names = append(names, string(prefix))
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			gen(append(prefix, c), n-1)
		}
	}
	gen(nil, 5) // every name of up to 5 characters over the alphabet
	for _, name := range names {
		if got, want := ValidName(name), nameRe.MatchString(name); got != want {
			t.Errorf("ValidName(%q) = %v, grammar says %v", name, got, want)
		}
	}
}

var tagRe = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

func TestTagMatchesGrammar(t *testing.T) {
	for _, tag := range []string{"", "a", "_x", ".x", "-x", "A.b-c_d", "a b", "ä", "x/y", strings.Repeat("a", 128), strings.Repeat("a", 129)} {
		if got, want := ValidTag(tag), tagRe.MatchString(tag); got != want {
			t.Errorf("ValidTag(%q) = %v, grammar says %v", tag, got, want)
		}
	}
}

func TestNames(t *testing.T) {
	for name, want := range map[string]bool{
		"a": true, "alice/tools/python": true, "a-b/c__d/e.f": true, "a--b": true,
		"": false, "A": false, "a/": false, "/a": false, "a//b": false, "a/.b": false, "a_-b": false,
		strings.Repeat("a", 256): false,
	} {
		if got := ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v", name, got)
		}
	}
}

func TestReferences(t *testing.T) {
	for _, tc := range []struct {
		in      string
		class   apperr.Code
		subject apperr.Subject
	}{
		{"latest", "", ""},
		{"_x.Y-1", "", ""},
		{".INVALID_MANIFEST_NAME", apperr.NotFound, apperr.Manifest},
		{"sha256:totallywrong", apperr.Invalid, apperr.Digest},
		{"md5:d41d8cd98f00b204e9800998ecf8427e", apperr.Invalid, apperr.Digest},
		{"sha256:" + strings.Repeat("a", 64), "", ""},
		{"sha512:" + strings.Repeat("b", 128), "", ""},
	} {
		_, err := ParseReference(tc.in)
		if (err == nil) != (tc.class == "") || (err != nil && (apperr.CodeOf(err) != tc.class || apperr.SubjectOf(err) != tc.subject)) {
			t.Errorf("ParseReference(%q): %v (%s)", tc.in, err, apperr.CodeOf(err))
		}
	}
}

func TestScopes(t *testing.T) {
	got := ParseScopes("repository:localhost:5000/a/b:push,pull registry:catalog:*", "repository(plugin):x:pull,pull", "junk", "repository:y:")
	want := []string{"repository:localhost:5000/a/b:pull,push", "registry:catalog:*", "repository:x:pull", "repository:y:"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("scope %d = %q, want %q", i, got[i], want[i])
		}
	}
	if !got[1].Has("delete") || got[2].Has("push") {
		t.Fatal("Has")
	}
}

func TestReferrersTag(t *testing.T) {
	d := EmptyJSONDigest
	if got := ReferrersTag(d); got != "sha256-"+d.Encoded() {
		t.Fatal(got)
	}
}

func TestManifest(t *testing.T) {
	m, err := ParseManifest([]byte(`{"schemaVersion":2,"config":{"mediaType":"c","digest":"` + EmptyJSONDigest.String() + `","size":2},
		"layers":[{"mediaType":"` + SIFLayerMediaType + `","digest":"` + EmptyJSONDigest.String() + `","size":2}]}`))
	if err != nil || !m.IsSIF() || m.ReferrerArtifactType() != "c" || len(m.References()) != 2 {
		t.Fatalf("%+v %v", m, err)
	}
	for _, bad := range []string{`{"schemaVersion":2,"config":{"mediaType":"c","digest":"sha256:bad","size":2}}`,
		`not json`, `null`, `{}`, `[]`, `{"schemaVersion":2}`, `{"schemaVersion":1,"layers":[]}`,
		`{"schemaVersion":2,"config":{"digest":"` + EmptyJSONDigest.String() + `","size":2}}`,
		`{"schemaVersion":2,"manifests":[],"layers":[]}`} {
		if _, err := ParseManifest([]byte(bad)); !apperr.Is(err, apperr.Invalid) || apperr.SubjectOf(err) != apperr.Manifest {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if m, err := ParseManifest([]byte(`{"schemaVersion":2,"manifests":[]}`)); err != nil || !m.IsIndex() {
		t.Fatalf("empty index: %v", err)
	}
}

// A pushed manifest is served as its own mediaType; a Content-Type naming
// another manifest type, or the other kind, is refused.
func TestMediaTypeOf(t *testing.T) {
	image := Manifest{SchemaVersion: 2, MediaType: MediaTypeImageManifest, Config: &Descriptor{}}
	bare := Manifest{SchemaVersion: 2, Config: &Descriptor{}}
	index := Manifest{SchemaVersion: 2, Manifests: []Descriptor{}}
	artifact := Manifest{SchemaVersion: 2, MediaType: "application/vnd.example+json", Config: &Descriptor{}}
	for _, tc := range []struct {
		ct   string
		m    Manifest
		want string // "" for refused
	}{
		{MediaTypeImageManifest, image, MediaTypeImageManifest},
		{MediaTypeImageManifest + "; charset=utf-8", image, MediaTypeImageManifest},
		{"", image, MediaTypeImageManifest},
		{"application/json", image, MediaTypeImageManifest},
		{MediaTypeImageIndex, image, ""},
		{MediaTypeDockerManifest, image, ""},
		{MediaTypeDockerManifest, bare, MediaTypeDockerManifest},
		{MediaTypeImageIndex, bare, ""},
		{"", bare, MediaTypeImageManifest},
		{"", index, MediaTypeImageIndex},
		{MediaTypeDockerManifestList, index, MediaTypeDockerManifestList},
		{MediaTypeImageManifest, index, ""},
		{"application/vnd.other+json", bare, "application/vnd.other+json"},
		{MediaTypeImageManifest, artifact, ""},
		{"application/vnd.example+json", artifact, "application/vnd.example+json"},
	} {
		got, err := MediaTypeOf(tc.ct, tc.m)
		switch {
		case tc.want == "" && (err == nil || !apperr.Is(err, apperr.Invalid) || apperr.SubjectOf(err) != apperr.Manifest):
			t.Errorf("MediaTypeOf(%q, %+v) = %q, %v; want MANIFEST_INVALID", tc.ct, tc.m, got, err)
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("MediaTypeOf(%q, %+v) = %q, %v; want %q", tc.ct, tc.m, got, err, tc.want)
		}
	}
}
