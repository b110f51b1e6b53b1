package oci

import (
	"encoding/json"
	"testing"

	"github.com/silo-hpc/silo/internal/apperr"
)

// FuzzValidName checks the hand-written ValidName against the spec's
// grammar (nameRe) on any input, beyond TestNameMatchesGrammar's short
// names.
func FuzzValidName(f *testing.F) {
	for _, s := range []string{"a", "alice/tools/python", "a-b/c__d/e.f", "a--b", "a_-b", "a//b", "a/.b", "ä"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		want := nameRe.MatchString(name) && len(name) <= MaxNameLength
		if got := ValidName(name); got != want {
			t.Fatalf("ValidName(%q) = %v, grammar says %v", name, got, want)
		}
	})
}

// FuzzValidTag checks ValidTag against the spec's tag grammar (tagRe).
func FuzzValidTag(f *testing.F) {
	for _, s := range []string{"latest", "_x", ".x", "-x", "A.b-c_d", "a b", "ä"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		if got, want := ValidTag(tag), tagRe.MatchString(tag); got != want {
			t.Fatalf("ValidTag(%q) = %v, grammar says %v", tag, got, want)
		}
	})
}

// FuzzParseManifest: any body either parses into a manifest or index
// that keeps ParseManifest's promises, or is refused as an invalid
// manifest (never another class, never a panic).
func FuzzParseManifest(f *testing.F) {
	for _, s := range []string{
		`null`, `{}`, `[]`, `{"schemaVersion":1}`,
		`{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"sha256:` + hex64 + `","size":1},"layers":[]}`,
		`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"a/b","digest":"sha256:` + hex64 + `","size":2}]}`,
		`{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"sha256:` + hex64 + `","size":1},"subject":{"mediaType":"a","digest":"sha256:x","size":1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := ParseManifest(body)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("ParseManifest(%q): %v is not an invalid manifest", body, err)
			}
			return
		}
		if !json.Valid(body) || m.SchemaVersion != 2 {
			t.Fatalf("ParseManifest(%q) accepted it", body)
		}
		if (m.Config == nil) == (m.Manifests == nil) {
			t.Fatalf("ParseManifest(%q): neither a manifest nor an index: %+v", body, m)
		}
		descs := m.References()
		if m.Subject != nil {
			descs = append(descs, *m.Subject)
		}
		for _, d := range descs {
			if _, err := ParseDigest(string(d.Digest)); err != nil || d.MediaType == "" || d.Size < 0 {
				t.Fatalf("ParseManifest(%q) accepted the descriptor %+v", body, d)
			}
		}
	})
}

const hex64 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
