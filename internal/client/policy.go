package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Silo's signature checks and collection signature policies, as its
// Library API shows them (docs/keyserver.md, "Signatures of images" and
// "Signature policies").

// SignatureCheck is one signature of an image as the server checked it
// against the keys it holds: Status is verified, unknown_key, invalid or
// unsupported; KeyOwner is who added the key that verified it.
type SignatureCheck struct {
	Fingerprint   string `json:"fingerprint"`
	Status        string `json:"status"`
	KeyOwner      string `json:"keyOwner,omitempty"`
	CoversPrimary bool   `json:"coversPrimary,omitempty"`
	Error         string `json:"error,omitempty"`
}

// SignaturePolicy is a collection's policy and how its stored images
// fare against it.
type SignaturePolicy struct {
	Collection   string        `json:"collection"` // entity/collection
	CollectionID string        `json:"collectionID"`
	Fingerprints []string      `json:"fingerprints"` // empty: no policy
	Keys         []PolicyKey   `json:"keys"`
	UpdatedBy    string        `json:"updatedBy,omitempty"`
	UpdatedAt    *time.Time    `json:"updatedAt,omitempty"`
	Images       []PolicyImage `json:"images"`
	Failing      int           `json:"failing"`
}

// PolicyKey is a fingerprint a policy lists: whether the server holds
// the key, and whose it is.
type PolicyKey struct {
	Fingerprint string `json:"fingerprint"`
	Held        bool   `json:"held"`
	Owner       string `json:"owner,omitempty"`
}

// PolicyImage is a stored image judged by the policy.
type PolicyImage struct {
	Container string   `json:"container"` // entity/collection/container
	ID        string   `json:"id"`
	Hash      string   `json:"hash"`
	Arch      string   `json:"arch"`
	Tags      []string `json:"tags"`
	Passes    bool     `json:"passes"`
	Refusal   string   `json:"refusal,omitempty"`
}

// CollectionID is the id of entity/collection (GET /v1/collections/{e}/{c},
// L3).
func (l *Library) CollectionID(ctx context.Context, entity, collection string) (string, error) {
	var c struct {
		ID string `json:"id"`
	}
	err := l.call(ctx, http.MethodGet, "/v1/collections/"+url.PathEscape(entity)+"/"+url.PathEscape(collection), nil, nil, &c)
	return c.ID, err
}

// SignaturePolicy is GET /v1/signature-policies/{collectionID}.
func (l *Library) SignaturePolicy(ctx context.Context, collectionID string) (SignaturePolicy, error) {
	var p SignaturePolicy
	err := l.call(ctx, http.MethodGet, "/v1/signature-policies/"+url.PathEscape(collectionID), nil, nil, &p)
	return p, err
}

// SetSignaturePolicy is PUT /v1/signature-policies/{collectionID} with
// the fingerprints pushes need a valid signature by; none is DELETE,
// which turns the policy off.
func (l *Library) SetSignaturePolicy(ctx context.Context, collectionID string, fingerprints []string) (SignaturePolicy, error) {
	var p SignaturePolicy
	path := "/v1/signature-policies/" + url.PathEscape(collectionID)
	if len(fingerprints) == 0 {
		err := l.call(ctx, http.MethodDelete, path, nil, nil, &p)
		return p, err
	}
	err := l.call(ctx, http.MethodPut, path, nil, map[string][]string{"fingerprints": fingerprints}, &p)
	return p, err
}
