// Package sifverify checks the signatures of a SIF image against a set of
// OpenPGP public keys, with sif/v2's integrity package (what
// `singularity verify` runs), within fixed limits: a SIF is untrusted
// input and the keys are whatever the keyserver holds. It is a leaf: the
// server's bridge gives it the keys and keeps the results
// (docs/keyserver.md, "Signatures of images").
package sifverify

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/ProtonMail/go-crypto/openpgp"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sylabs/sif/v2/pkg/integrity"
	"github.com/sylabs/sif/v2/pkg/sif"
)

// Status is what the check of one signature found.
type Status string

const (
	// Verified: the signature is good, by a key given, and the objects it
	// covers (header and descriptors included) are intact.
	Verified Status = "verified"
	// UnknownKey: no key given has the signature's fingerprint.
	UnknownKey Status = "unknown_key"
	// Invalid: a key was given but the check failed (tampered objects, a
	// bad, expired or revoked key, a malformed signature).
	Invalid Status = "invalid"
	// Unsupported: not checked (a legacy or non-OpenPGP signature, or over
	// the limits).
	Unsupported Status = "unsupported"
)

// Signature is the check of one signature object.
type Signature struct {
	ID          uint32 `json:"id"`
	Fingerprint string `json:"fingerprint"` // upper-case hex, from the descriptor
	Status      Status `json:"status"`
	// Objects are the objects the signature was found to cover (when
	// Verified); CoversPrimary says the primary system partition is one.
	Objects       []uint32 `json:"objects,omitempty"`
	CoversPrimary bool     `json:"covers_primary,omitempty"`
	Error         string   `json:"error,omitempty"`
}

// Options bound the work.
type Options struct {
	// MaxSignatures: an image with more signature objects has none
	// checked (each one checked may hash the whole image). Default 4.
	MaxSignatures int
	// MaxSignatureSize: a larger signature object is not read (the
	// integrity package reads signatures whole). Default 64 KiB.
	MaxSignatureSize int64
}

func (o Options) withDefaults() Options {
	if o.MaxSignatures <= 0 {
		o.MaxSignatures = 4
	}
	if o.MaxSignatureSize <= 0 {
		o.MaxSignatureSize = 64 << 10
	}
	return o
}

// ErrMalformed marks a SIF whose header or descriptors cannot be read.
var ErrMalformed = errors.New("malformed SIF")

// Verify checks every signature object of the SIF in r (size bytes)
// against keys, ordered by object ID. Signatures whose fingerprint no key
// has are UnknownKey without any reading beyond the descriptors; the
// objects are hashed only for a signature a key validates. It fails only
// for an unreadable SIF (ErrMalformed) or when ctx ends (reads fail with
// its error).
func Verify(ctx context.Context, r io.ReaderAt, size int64, keys openpgp.EntityList, o Options) (sigs []Signature, err error) {
	o = o.withDefaults()
	defer func() {
		// A panic in a dependency on hostile input is this image's
		// failure, not the server's.
		if p := recover(); p != nil {
			sigs, err = nil, fmt.Errorf("%w: %v", ErrMalformed, p)
		}
	}()
	f, err := sif.LoadContainer(readOnly{ctxReader{ctx, io.NewSectionReader(r, 0, size)}}, sif.OptLoadWithCloseOnUnload(false))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	defer f.UnloadContainer()
	c, err := collect(f, keys, o)
	if err != nil || c.done() {
		return c.list(), err
	}
	for _, g := range c.groups() {
		c.verifyGroup(ctx, f, keys, g)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.list(), nil
}

// checks gathers the image's signatures and their results.
type checks struct {
	sigs    map[uint32]*Signature
	group   map[uint32]uint32 // signature -> the group it signs
	primary uint32            // the primary system partition's object ID (0: none)
}

// collect lists the signature objects and decides those that need no
// cryptography: over the limits, legacy, not OpenPGP, no key.
func collect(f *sif.FileImage, keys openpgp.EntityList, o Options) (*checks, error) {
	c := &checks{sigs: map[uint32]*Signature{}, group: map[uint32]uint32{}}
	if d, err := f.GetDescriptor(sif.WithPartitionType(sif.PartPrimSys)); err == nil {
		c.primary = d.ID()
	}
	ds, err := f.GetDescriptors(sif.WithDataType(sif.DataSignature))
	if err != nil {
		return c, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	held := map[string]bool{}
	for _, e := range keys {
		held[fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)] = true
	}
	// A group with an oversized signature is not checked at all: the
	// integrity package reads each signature of a group whole.
	oversized := map[uint32]bool{}
	for _, d := range ds {
		if id, isGroup := d.LinkedID(); isGroup && d.Size() > o.MaxSignatureSize {
			oversized[id] = true
		}
	}
	tooMany := len(ds) > o.MaxSignatures
	for _, d := range ds {
		s := &Signature{ID: d.ID()}
		c.sigs[d.ID()] = s
		_, fp, err := d.SignatureMetadata()
		s.Fingerprint = fmt.Sprintf("%X", fp)
		id, isGroup := d.LinkedID()
		switch {
		case tooMany:
			s.Status, s.Error = Unsupported, fmt.Sprintf("the image has %d signatures, more than the %d checked", len(ds), o.MaxSignatures)
		case err != nil:
			s.Status, s.Error = Invalid, "unreadable signature descriptor: "+err.Error()
		case !isGroup:
			s.Status, s.Error = Unsupported, "a legacy signature of one object (not checked; sign with a current `singularity sign`)"
		case d.Size() > o.MaxSignatureSize:
			s.Status, s.Error = Invalid, fmt.Sprintf("signature object of %d bytes, larger than %d", d.Size(), o.MaxSignatureSize)
		case oversized[id]:
			s.Status, s.Error = Unsupported, "its object group has an oversized signature"
		case !held[s.Fingerprint]:
			s.Status, s.Error = UnknownKey, "no key with this fingerprint is held"
		case !isOpenPGP(d):
			s.Status, s.Error = Unsupported, "not an OpenPGP signature"
		default:
			c.group[d.ID()] = id
		}
	}
	return c, nil
}

// isOpenPGP reads a (size-checked) signature object and reports whether
// it is a clear-signed OpenPGP message, as `singularity sign` makes.
func isOpenPGP(d sif.Descriptor) bool {
	b, err := d.GetData()
	return err == nil && bytes.Contains(b, []byte("-----BEGIN PGP SIGNED MESSAGE-----"))
}

// done reports whether nothing is left to check cryptographically.
func (c *checks) done() bool {
	for id := range c.group {
		if c.sigs[id].Status == "" {
			return false
		}
	}
	return true
}

// groups lists the object groups with signatures left to check.
func (c *checks) groups() []uint32 {
	seen := map[uint32]bool{}
	var out []uint32
	for id, g := range c.group {
		if c.sigs[id].Status == "" && !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// verifyGroup runs the integrity package's check of one object group,
// recording each signature's result. Signatures of the group decided
// before (no key, not OpenPGP) keep that answer.
func (c *checks) verifyGroup(ctx context.Context, f *sif.FileImage, keys openpgp.EntityList, g uint32) {
	cb := func(r integrity.VerifyResult) bool {
		s, ok := c.sigs[r.Signature().ID()]
		if !ok || s.Status != "" {
			return true
		}
		c.record(s, r)
		return true
	}
	v, err := integrity.NewVerifier(f, integrity.OptVerifyGroup(g), integrity.OptVerifyWithKeyRing(keys),
		integrity.OptVerifyWithVerifier(noDSSE{}), integrity.OptVerifyWithContext(ctx), integrity.OptVerifyCallback(cb))
	if err == nil {
		err = v.Verify()
	}
	for id, s := range c.sigs {
		if c.group[id] != g || s.Status != "" {
			continue
		}
		// Not reached by the callback: the group as a whole failed.
		s.Status, s.Error = Invalid, "not verified"
		if err != nil {
			s.Error = err.Error()
		}
		if errors.Is(err, &integrity.SignatureNotFoundError{}) {
			s.Status, s.Error = Unsupported, "a legacy signature (not checked; sign with a current `singularity sign`)"
		}
	}
}

// record turns one integrity result into a Signature.
func (c *checks) record(s *Signature, r integrity.VerifyResult) {
	err := r.Error()
	switch {
	case err == nil:
		s.Status = Verified
		for _, d := range r.Verified() {
			s.Objects = append(s.Objects, d.ID())
			s.CoversPrimary = s.CoversPrimary || (c.primary != 0 && d.ID() == c.primary)
		}
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		// The fingerprint is held but the signature names another key.
		s.Status, s.Error = UnknownKey, "signed by a key that is not held"
	default:
		s.Status, s.Error = Invalid, err.Error()
	}
}

// list returns the signatures ordered by object ID.
func (c *checks) list() []Signature {
	out := make([]Signature, 0, len(c.sigs))
	for _, s := range c.sigs {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

var errNotOpenPGP = errors.New("not an OpenPGP signature")

// noDSSE refuses every DSSE envelope, so an image that also carries one
// is still checked for its OpenPGP signatures (without key material for
// DSSE, the integrity package would stop at the first).
type noDSSE struct{}

func (noDSSE) PublicKey(...signature.PublicKeyOption) (crypto.PublicKey, error) {
	return nil, errNotOpenPGP
}

func (noDSSE) VerifySignature(io.Reader, io.Reader, ...signature.VerifyOption) error {
	return errNotOpenPGP
}

var errReadOnly = errors.New("read-only")

// readOnly gives sif.LoadContainer the ReadWriter it asks for; loading
// and verifying never write.
type readOnly struct{ io.ReaderAt }

func (readOnly) Write([]byte) (int, error)      { return 0, errReadOnly }
func (readOnly) Seek(int64, int) (int64, error) { return 0, errReadOnly }
func (readOnly) Truncate(int64) error           { return errReadOnly }

// ctxReader fails reads once ctx ends, which bounds the hashing of a
// large image by the caller's deadline.
type ctxReader struct {
	ctx context.Context
	r   io.ReaderAt
}

func (c ctxReader) ReadAt(p []byte, off int64) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.ReadAt(p, off)
}
