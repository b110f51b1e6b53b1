package cli

import (
	"fmt"

	"github.com/silo-hpc/silo/internal/client"
)

// How `silo list` and `silo admin policy` show the server's check of an
// image's signatures against the keys its keyserver holds
// (docs/keyserver.md, "Signatures of images").

// signatureState is the SIGNED column: "no"; "verified" (every signature
// verified by a held key, the root file system covered); else why not:
// "invalid", "unknown key", "unsupported", "partial" (the signatures
// verify but do not cover the root file system) or "unchecked" (signed,
// not checked: a server without a keyserver, or an older one).
func signatureState(img client.Image) string {
	switch {
	case !img.Signed:
		return "no"
	case img.Verified:
		return "verified"
	case len(img.Signatures) == 0:
		return "unchecked"
	}
	worst := "partial"
	rank := map[string]int{"partial": 0, "unsupported": 1, "unknown key": 2, "invalid": 3}
	for _, s := range img.Signatures {
		st := ""
		switch s.Status {
		case "invalid":
			st = "invalid"
		case "unknown_key":
			st = "unknown key"
		case "unsupported":
			st = "unsupported"
		}
		if st != "" && rank[st] > rank[worst] {
			worst = st
		}
	}
	return worst
}

// signatureLines says, one line per signature, what the check found:
// "signed, verified by FP (owner)", "signed, unverified: unknown key FP",
// ...; "unsigned" for an image without signatures.
func signatureLines(img client.Image) []string {
	if !img.Signed {
		return []string{"unsigned"}
	}
	if len(img.Signatures) == 0 {
		return []string{"signed, not checked by the server"}
	}
	var out []string
	for _, s := range img.Signatures {
		out = append(out, signatureLine(s))
	}
	if !img.Verified && signatureState(img) == "partial" {
		out = append(out, "unverified: no signature covers the image's root file system")
	}
	return out
}

func signatureLine(s client.SignatureCheck) string {
	switch s.Status {
	case "verified":
		line := "signed, verified by " + s.Fingerprint
		if s.KeyOwner != "" {
			line += " (" + s.KeyOwner + ")"
		}
		if !s.CoversPrimary {
			line += ", not covering the root file system"
		}
		return line
	case "unknown_key":
		return "signed, unverified: unknown key " + s.Fingerprint + " (the server holds no key with this fingerprint)"
	case "invalid":
		return fmt.Sprintf("signed, invalid: the signature by %s does not verify (%s)", s.Fingerprint, s.Error)
	case "unsupported":
		return fmt.Sprintf("signed, not checked: the signature by %s (%s)", s.Fingerprint, s.Error)
	}
	return fmt.Sprintf("signed by %s: %s", s.Fingerprint, s.Status)
}
