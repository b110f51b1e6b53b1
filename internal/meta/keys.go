package meta

import (
	"context"
	"time"
)

// PGPKey is an OpenPGP public key the keyserver holds (internal/pgpkeys,
// docs/keyserver.md). Fingerprint is the primary key's, upper-case hex.
// The key belongs to the user who added it.
type PGPKey struct {
	Fingerprint string
	OwnerID     string
	// OwnerName is the owner's user name (read, never written).
	OwnerName string
	Algorithm int // OpenPGP public-key algorithm number
	Bits      int
	CreatedAt time.Time // the key's own creation time
	ExpiresAt time.Time // zero: never
	Revoked   bool
	// UserIDs are the key's user IDs ("Name (comment) <email>").
	UserIDs []string
	// Armored is the public key as the keyserver hands it out.
	Armored string
	// IDs are the key IDs of the primary key and every subkey, by which
	// lookups find the key.
	IDs       []PGPKeyID
	AddedAt   time.Time
	UpdatedAt time.Time
}

// PGPKeyID names one (sub)key of a PGPKey.
type PGPKeyID struct {
	Fingerprint string // the (sub)key's own fingerprint
	KeyID       string // 64-bit key ID, 16 upper-case hex digits
	ShortID     string // 32-bit key ID, 8 upper-case hex digits
}

// PGPKeyQuery finds keys. Exactly one of the search fields is used, in
// this order: Fingerprint (a primary or subkey fingerprint), KeyID,
// ShortID, Text (a substring of a user ID, case-insensitive; with Exact,
// a whole user ID or its e-mail address).
type PGPKeyQuery struct {
	Fingerprint, KeyID, ShortID, Text string
	Exact                             bool
	// Limit (0: no limit) and Offset page the results, ordered by
	// fingerprint.
	Limit, Offset int
}

// PGPKeys stores the keyserver's keys. Every change to a key (added,
// replaced, removed) is recorded with a new keyring generation, so
// signature checks made with the keys of an older generation are found
// and redone (SIFSigners.ListStaleSigners).
type PGPKeys interface {
	// PutPGPKey inserts a key or replaces the key with its fingerprint
	// (every field but AddedAt), and its key IDs.
	PutPGPKey(ctx context.Context, k *PGPKey) error
	// GetPGPKey returns a key with its IDs.
	GetPGPKey(ctx context.Context, fingerprint string) (PGPKey, error)
	// FindPGPKeys lists the keys matching q, with their IDs.
	FindPGPKeys(ctx context.Context, q PGPKeyQuery) ([]PGPKey, error)
	// ListPGPKeys lists a user's keys ("": everyone's), by fingerprint.
	ListPGPKeys(ctx context.Context, ownerID string) ([]PGPKey, error)
	DeletePGPKey(ctx context.Context, fingerprint string) error
	// KeyringGeneration is the generation of the last key change (0 for
	// none). Read it before reading keys: a check made with those keys is
	// then stale exactly when one of its keys changed at a later
	// generation.
	KeyringGeneration(ctx context.Context) (int64, error)
}

// SIFSigners records, per SIF content digest, the fingerprints that
// signed it and the keyring generation its signatures were last checked
// at, so a key change finds the images whose verification it affects.
type SIFSigners interface {
	// RecordSIFSigners records that digest is signed by fingerprints,
	// checked at generation (keeping the older generation where a row
	// exists: it is redone if a key changed since) and at time at.
	RecordSIFSigners(ctx context.Context, digest string, fingerprints []string, generation int64, at time.Time) error
	// SetSIFSignersChecked marks every signer of digest checked at
	// generation and at (after a re-check of every image with it).
	SetSIFSignersChecked(ctx context.Context, digest string, generation int64, at time.Time) error
	// DeleteSIFSigners forgets digest (no image has it any more).
	DeleteSIFSigners(ctx context.Context, digest string) error
	// ListStaleSigners lists, up to limit, digests with a signer whose key
	// changed after the check (a later generation), or expired between the
	// check and now.
	ListStaleSigners(ctx context.Context, now time.Time, limit int) ([]string, error)
}

// SignaturePolicy is a collection's signature rule: pushes must carry a
// valid signature by one of Fingerprints (bridge.CheckSignaturePolicy).
// No row: no rule.
type SignaturePolicy struct {
	CollectionID string
	Fingerprints []string // primary key fingerprints, upper-case hex
	UpdatedBy    string   // user id
	UpdatedAt    time.Time
}

// SignaturePolicies stores collections' signature rules.
type SignaturePolicies interface {
	// GetSignaturePolicy is NotFound when the collection has none.
	GetSignaturePolicy(ctx context.Context, collectionID string) (SignaturePolicy, error)
	// PutSignaturePolicy sets a collection's rule (the collection must
	// exist: NotFound otherwise).
	PutSignaturePolicy(ctx context.Context, p *SignaturePolicy) error
	// DeleteSignaturePolicy removes it (no error when there is none).
	DeleteSignaturePolicy(ctx context.Context, collectionID string) error
}

// Keyring is the keyserver's part of the store.
type Keyring interface {
	PGPKeys
	SIFSigners
	SignaturePolicies
}
