package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/logctx"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/sifverify"
)

// KeySource is where the bridge finds the keys it verifies signatures
// with: the keyserver's (internal/pgpkeys).
type KeySource interface {
	// SigningKeys returns the held keys with these primary fingerprints,
	// their owners' names by fingerprint, and the keyring generation
	// read before them (meta.PGPKeys.KeyringGeneration).
	SigningKeys(ctx context.Context, fingerprints []string) (openpgp.EntityList, map[string]string, int64, error)
}

// UseKeys gives the bridge the keys to verify signatures with; without
// them every signature is "unknown_key".
func (b *Bridge) UseKeys(ks KeySource) { b.keys = ks }

// SignatureCheck is one signature of an image as checked against the
// keys Silo holds (sifverify.Status: verified, unknown_key, invalid,
// unsupported). KeyOwner is who added the key that verified it.
type SignatureCheck struct {
	Fingerprint   string           `json:"fingerprint"`
	Status        sifverify.Status `json:"status"`
	KeyOwner      string           `json:"keyOwner,omitempty"`
	CoversPrimary bool             `json:"coversPrimary,omitempty"`
	Error         string           `json:"error,omitempty"`
}

// Verification is the check of an image's signatures.
type Verification struct {
	Signatures []SignatureCheck
	// Verified: signed, every signature verified, and the primary
	// partition (the root file system) among what they cover.
	Verified  bool
	CheckedAt time.Time
	// Generation is the keyring generation the keys were read at.
	Generation int64
}

// apply records v in an image's metadata summary.
func (m *ImageMeta) apply(v Verification) {
	m.Signatures, m.Verified, m.CheckedAt = v.Signatures, v.Verified, v.CheckedAt
}

// verify checks the signatures of the SIF in r against the held keys
// with fingerprints (those its signature descriptors name).
func (b *Bridge) verify(ctx context.Context, r io.ReaderAt, size int64, fingerprints []string) (Verification, error) {
	v := Verification{CheckedAt: time.Now().UTC().Truncate(time.Second)}
	var keys openpgp.EntityList
	owners := map[string]string{}
	if b.keys != nil {
		var err error
		if keys, owners, v.Generation, err = b.keys.SigningKeys(ctx, uniq(fingerprints)); err != nil {
			return v, err
		}
	}
	sigs, err := sifverify.Verify(ctx, r, size, keys, sifverify.Options{})
	if errors.Is(err, sifverify.ErrMalformed) {
		for _, fp := range fingerprints {
			v.Signatures = append(v.Signatures, SignatureCheck{Fingerprint: fp, Status: sifverify.Invalid, Error: err.Error()})
		}
		return v, nil
	}
	if err != nil {
		return v, apperr.Wrap(apperr.Unavailable, err, "verifying signatures")
	}
	covered := false
	v.Verified = len(sigs) > 0
	for _, s := range sigs {
		c := SignatureCheck{Fingerprint: s.Fingerprint, Status: s.Status, CoversPrimary: s.CoversPrimary, Error: s.Error}
		if s.Status == sifverify.Verified {
			c.KeyOwner = owners[s.Fingerprint]
		}
		v.Signatures = append(v.Signatures, c)
		v.Verified = v.Verified && s.Status == sifverify.Verified
		covered = covered || s.CoversPrimary
	}
	v.Verified = v.Verified && covered
	return v, nil
}

// Verify checks again the signatures of a stored SIF blob whose signers
// are fingerprints (after keys changed).
func (b *Bridge) Verify(ctx context.Context, d digest.Digest, fingerprints []string) (Verification, error) {
	f, info, err := b.blobs.Open(ctx, d)
	if err != nil {
		return Verification{}, err
	}
	defer f.Close()
	ra, ok := f.(io.ReaderAt)
	if !ok {
		ra = &seekReaderAt{r: f}
	}
	return b.verify(ctx, ra, info.Size, fingerprints)
}

// Reverified applies a new check to an image's metadata summary.
func Reverified(img meta.Image, v Verification) string {
	m := MetaOf(img)
	m.apply(v)
	return m.JSON()
}

// RecordSigners records who signed a SIF and the generation its check
// used, so a later key change finds it (meta.SIFSigners). A SIF that
// was not inspected here (sif built from a stored image) records
// nothing: its upload did.
func RecordSigners(ctx context.Context, tx Store, d string, sif SIF) error {
	if sif.Inspection == nil || len(sif.Meta.Fingerprints) == 0 {
		return nil
	}
	return tx.RecordSIFSigners(ctx, d, uniq(sif.Meta.Fingerprints), sif.Generation, sif.Meta.CheckedAt)
}

func uniq(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// CheckSignaturePolicy is the one rule of signature policies, which
// every upload completion asks (Library uploads, OCI SIF artifacts,
// sregistry uploads, copies of stored content): in a collection with a
// policy, an image is accepted only when its signatures all verify
// against keys Silo holds, cover its root file system, and one of them is
// by a fingerprint the policy lists. Images stored before are left alone
// (PolicyRefusal tells which would fail).
func (b *Bridge) CheckSignaturePolicy(ctx context.Context, st Store, ref Ref, m ImageMeta) error {
	p, err := st.GetSignaturePolicy(ctx, ref.Collection.ID)
	if apperr.Is(err, apperr.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	why := PolicyRefusal(p.Fingerprints, m)
	if why == "" {
		return nil
	}
	logctx.From(ctx).Info("push refused by the signature policy", "collection", ref.Entity.Name+"/"+ref.Collection.Name, "why", why)
	return Denied("collection %s/%s accepts only images with a valid signature by %s: %s",
		ref.Entity.Name, ref.Collection.Name, strings.Join(p.Fingerprints, ", "), why)
}

// PolicyRefusal says why an image with metadata m fails a policy listing
// fingerprints, or "" when it passes.
func PolicyRefusal(fingerprints []string, m ImageMeta) string {
	if !m.Signed || len(m.Signatures) == 0 {
		return "the image is not signed"
	}
	for _, s := range m.Signatures {
		switch s.Status {
		case sifverify.UnknownKey:
			return fmt.Sprintf("its signature by %s is not verified: no key with this fingerprint is held here (push it with `singularity key push`)", s.Fingerprint)
		case sifverify.Invalid:
			return fmt.Sprintf("its signature by %s does not verify: %s", s.Fingerprint, s.Error)
		case sifverify.Unsupported:
			return fmt.Sprintf("its signature by %s was not checked: %s", s.Fingerprint, s.Error)
		}
	}
	if !m.Verified {
		return "its signatures do not cover the image's root file system"
	}
	var by []string
	for _, s := range m.Signatures {
		if s.CoversPrimary && slices.Contains(fingerprints, s.Fingerprint) {
			return ""
		}
		by = append(by, s.Fingerprint)
	}
	return fmt.Sprintf("it is signed by %s, not by a key the collection accepts", strings.Join(uniq(by), ", "))
}
