package oci

import (
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/apperr"
)

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
		in   string
		code ErrorCode
		http apperr.Code
	}{
		{"latest", "", ""},
		{"_x.Y-1", "", ""},
		{".INVALID_MANIFEST_NAME", CodeManifestUnknown, apperr.NotFound},
		{"sha256:totallywrong", CodeDigestInvalid, apperr.Invalid},
		{"md5:d41d8cd98f00b204e9800998ecf8427e", CodeDigestInvalid, apperr.Invalid},
		{"sha256:" + strings.Repeat("a", 64), "", ""},
		{"sha512:" + strings.Repeat("b", 128), "", ""},
	} {
		_, err := ParseReference(tc.in)
		if CodeOf(err) != tc.code || (err != nil && apperr.CodeOf(err) != tc.http) {
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
	if _, err := ParseManifest([]byte(`{"layers":[{"digest":"sha256:bad"}]}`)); CodeOf(err) != CodeManifestInvalid {
		t.Fatalf("bad digest: %v", err)
	}
	if _, err := ParseManifest([]byte(`not json`)); CodeOf(err) != CodeManifestInvalid {
		t.Fatalf("not json: %v", err)
	}
}
