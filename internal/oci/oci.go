// Package oci is the OCI Distribution vocabulary Silo's registry speaks:
// repository name, tag and reference grammar, digests, media types, the
// SIF artifact constants, the token scope grammar. It is a leaf: no I/O.
//
// Spec: OCI Distribution v1.1 (docs/protocols/oci-and-auth.md §1; "notes
// §n" below cites that file).
package oci

import (
	_ "crypto/sha256" // registers the hashes go-digest validates against
	_ "crypto/sha512"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
)

// MaxNameLength caps repository names: many clients cap host[:port]/name
// at 255 characters, so longer names could never be pulled.
const MaxNameLength = 255

// MaxManifestSize is the largest manifest accepted. The spec requires at
// least 4 MiB (the conformance suite pushes ~3.9 MB); above it is 413.
const MaxManifestSize = 4 << 20

// ValidName reports whether name is a repository name: the spec's grammar
// ("Pulling manifests"),
//
//	[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
//
// checked by hand: every request checks a name, and the regular
// expression cost more per request than the rest of the check and 2 ms
// of every `silo` command's start to compile (oci_test.go compares both).
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameLength {
		return false
	}
	for _, comp := range strings.Split(name, "/") {
		if !validComponent(comp) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// validComponent: alphanumeric runs joined by ".", "_", "__" or dashes.
func validComponent(c string) bool {
	if c == "" || !isAlnum(c[0]) || !isAlnum(c[len(c)-1]) {
		return false
	}
	for i := 0; i < len(c); {
		if isAlnum(c[i]) {
			i++
			continue
		}
		j := i
		for j < len(c) && !isAlnum(c[j]) {
			j++
		}
		switch sep := c[i:j]; {
		case sep == ".", sep == "_", sep == "__", strings.Trim(sep, "-") == "":
		default:
			return false
		}
		i = j
	}
	return true
}

// ValidTag reports whether tag matches the spec's tag grammar,
// [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. By hand for the reason ValidName is:
// compiled, the bounded repetition is 127 copies of its class, 2 ms of
// every command's start.
func ValidTag(tag string) bool {
	if tag == "" || len(tag) > 128 || tag[0] == '.' || tag[0] == '-' {
		return false
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// Components splits a repository name at its slashes.
func Components(name string) []string { return strings.Split(name, "/") }

// ParseDigest parses a digest of a supported algorithm (sha256, sha512).
// Anything else is apperr.Invalid about a Digest, so a malformed digest
// is a 400 (DIGEST_INVALID), never a 500.
func ParseDigest(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", apperr.E(apperr.Invalid, apperr.Digest, "invalid digest %q", truncate(s))
	}
	if !SupportedAlgorithm(d.Algorithm()) {
		return "", apperr.E(apperr.Invalid, apperr.Digest, "unsupported digest algorithm %q", d.Algorithm())
	}
	return d, nil
}

// SupportedAlgorithm reports whether blobs and manifests may be addressed
// with alg.
func SupportedAlgorithm(alg digest.Algorithm) bool {
	return alg == digest.SHA256 || alg == digest.SHA512
}

// Reference is a parsed <reference>: exactly one of Tag and Digest is set.
type Reference struct {
	Tag    string
	Digest digest.Digest
}

func (r Reference) String() string {
	if r.Digest != "" {
		return r.Digest.String()
	}
	return r.Tag
}

// ParseReference parses a manifest reference. Something containing ":" is
// a digest (DIGEST_INVALID when malformed); otherwise it must be a tag.
// A string that is neither names no manifest: NotFound about a Manifest
// (the v1.1.1 conformance suite wants 404 MANIFEST_UNKNOWN for GET
// manifests/.INVALID_MANIFEST_NAME).
func ParseReference(s string) (Reference, error) {
	if strings.Contains(s, ":") {
		d, err := ParseDigest(s)
		return Reference{Digest: d}, err
	}
	if !ValidTag(s) {
		return Reference{}, apperr.E(apperr.NotFound, apperr.Manifest, "invalid tag %q", truncate(s))
	}
	return Reference{Tag: s}, nil
}

// ReferrersTag is the fallback tag clients use for referrers of d when a
// registry has no referrers API (spec "Referrers Tag Schema").
func ReferrersTag(d digest.Digest) string {
	alg, enc := string(d.Algorithm()), d.Encoded()
	if len(alg) > 32 {
		alg = alg[:32]
	}
	if len(enc) > 64 {
		enc = enc[:64]
	}
	return alg + "-" + enc
}

// truncate keeps error messages about hostile input short.
func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
