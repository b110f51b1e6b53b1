package webui

import (
	"net/http"
	"strings"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/library"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/sifverify"
)

// The user's OpenPGP keys on the account page (the keyserver's, through
// the pgpkeys service: a key belongs to who added it, who alone replaces
// or removes it; docs/keyserver.md), and the signature badges of images.

func (u *UI) keyRoutes() {
	// A pasted key may be as large as the keyserver takes (256 KiB of
	// armor), URL-encoded.
	u.handleForm("POST /auth/account/keys", maxKeyForm, u.addKey)
	u.handle("POST /auth/account/keys/{fingerprint}/remove", u.removeKey)
}

// maxKeyForm bounds the key form: the keyserver's /pks/add bound.
const maxKeyForm = 1 << 20

// addKey stores the keys of a pasted armored public keyring as the
// user's (pgpkeys.Service.Add: all of them or none).
func (u *UI) addKey(w http.ResponseWriter, r *http.Request, c *call) error {
	text := strings.TrimSpace(r.PostForm.Get("keytext"))
	if text == "" {
		return apperr.New(apperr.Invalid, "paste an ASCII-armored public key (`gpg --armor --export ID`, or `singularity key export --armor`)")
	}
	if _, err := u.keys.Add(r.Context(), c.p, text); err != nil {
		return err
	}
	return done(w, r, "/auth/account", "key")
}

// removeKey removes one of the user's keys (an administrator may remove
// anyone's: the service decides).
func (u *UI) removeKey(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := u.keys.Remove(r.Context(), c.p, r.PathValue("fingerprint")); err != nil {
		return err
	}
	return done(w, r, "/auth/account", "keyremoved")
}

// sigBadge is an image's signature badge: "" for an unsigned image.
// Title says, signature by signature, what the server's check found.
type sigBadge struct {
	Text, Class, Title string
}

// badgeOf reads the check of an image's signatures against the keys
// Silo holds (docs/keyserver.md, "Signatures of images").
func badgeOf(img meta.Image) sigBadge {
	signed, _, _ := library.ImageMeta(img)
	verified, sigs, _ := library.Verification(img)
	if !signed {
		return sigBadge{}
	}
	var lines []string
	for _, s := range sigs {
		lines = append(lines, checkText(s))
	}
	b := sigBadge{Title: strings.Join(lines, "; ")}
	switch {
	case verified:
		b.Text, b.Class = "verified", "ok"
	case len(sigs) == 0:
		b.Text, b.Class, b.Title = "signed, not checked", "warn", "signed; the server has not checked the signatures yet"
	case hasStatus(sigs, sifverify.Invalid):
		b.Text, b.Class = "invalid signature", "bad"
	case hasStatus(sigs, sifverify.UnknownKey):
		b.Text, b.Class = "unknown key", "warn"
	case hasStatus(sigs, sifverify.Unsupported):
		b.Text, b.Class = "signed, not checked", "warn"
	default:
		b.Text, b.Class = "partly signed", "warn"
		b.Title += "; no signature covers the root file system"
	}
	return b
}

func hasStatus(sigs []library.SignatureCheck, st sifverify.Status) bool {
	for _, s := range sigs {
		if s.Status == st {
			return true
		}
	}
	return false
}

// checkText says what the check of one signature found.
func checkText(s library.SignatureCheck) string {
	switch s.Status {
	case sifverify.Verified:
		t := "verified by " + s.Fingerprint
		if s.KeyOwner != "" {
			t += " (" + s.KeyOwner + ")"
		}
		return t
	case sifverify.UnknownKey:
		return "unknown key " + s.Fingerprint + ": this server holds no key with this fingerprint"
	case sifverify.Invalid:
		return "signature by " + s.Fingerprint + " does not verify: " + s.Error
	default:
		return "signature by " + s.Fingerprint + " not checked: " + s.Error
	}
}
