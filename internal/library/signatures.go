package library

import (
	"context"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/sifverify"
)

// SignatureCheck is one signature of an image as checked against the
// keys Silo holds (bridge.SignatureCheck).
type SignatureCheck = bridge.SignatureCheck

// Verification reads the check of an image's signatures from its
// metadata: verified (every signature good, by a held key, over the root
// file system), each signature, and when they were checked.
func Verification(img meta.Image) (verified bool, sigs []SignatureCheck, checkedAt time.Time) {
	m := bridge.MetaOf(img)
	return m.Verified, m.Signatures, m.CheckedAt
}

// PolicyView is a collection's signature policy and its effect on the
// images the collection holds (which it leaves alone).
type PolicyView struct {
	Entity     meta.Entity
	Collection meta.Collection
	// Fingerprints is the policy: pushes need a valid signature by one of
	// them. Empty: no policy.
	Fingerprints []string
	// Keys tells, per fingerprint, whether Silo holds the key and whose
	// it is.
	Keys      []PolicyKey
	UpdatedBy string // user name
	UpdatedAt time.Time
	// Images are the collection's images, each with whether it would
	// pass the policy were it pushed now.
	Images []PolicyImage
}

// PolicyKey is a fingerprint a policy lists.
type PolicyKey struct {
	Fingerprint string
	Held        bool
	Owner       string
}

// PolicyImage is a stored image judged by a policy.
type PolicyImage struct {
	Container string // entity/collection/container
	Image     meta.Image
	Tags      []string
	// Refusal is why it would be refused ("" when it passes, or when
	// there is no policy).
	Refusal string
}

// SignaturePolicy answers GET /v1/signature-policies/{id}: the
// policy and which stored images would fail it. Anyone who may read the
// collection may see it.
func (s *Service) SignaturePolicy(ctx context.Context, p auth.Principal, collectionID string) (PolicyView, error) {
	var v PolicyView
	err := s.view(ctx, func(st Store) error {
		ref, err := s.bridge.CollectionByID(ctx, st, collectionID)
		if err != nil {
			return err
		}
		if err := s.bridge.Readable(ctx, st, p, ref.Collection, collectionID); err != nil {
			return err
		}
		v, err = s.policyView(ctx, st, ref)
		return err
	})
	return v, err
}

// SetSignaturePolicy answers PUT /v1/signature-policies/{id}:
// the collection's owner or an admin sets the fingerprints pushes need a
// valid signature by; none removes the policy. Stored images are not
// touched.
func (s *Service) SetSignaturePolicy(ctx context.Context, p auth.Principal, collectionID string, fingerprints []string) (PolicyView, error) {
	fps := make([]string, 0, len(fingerprints))
	for _, f := range fingerprints {
		fp, err := sifverify.ParseFingerprint(f)
		if err != nil {
			return PolicyView{}, apperr.New(apperr.Invalid, "%v", err)
		}
		fps = append(fps, fp)
	}
	if len(fps) > maxPolicyKeys {
		return PolicyView{}, apperr.New(apperr.Invalid, "a policy lists at most %d fingerprints", maxPolicyKeys)
	}
	var v PolicyView
	err := s.tx(ctx, func(tx Store) error {
		ref, err := s.bridge.CollectionByID(ctx, tx, collectionID)
		if err != nil {
			return err
		}
		if err := s.bridge.Readable(ctx, tx, p, ref.Collection, collectionID); err != nil {
			return err
		}
		if err := s.bridge.Writable(ctx, tx, p, ref); err != nil {
			return err
		}
		if len(fps) == 0 {
			err = tx.DeleteSignaturePolicy(ctx, ref.Collection.ID)
		} else {
			err = tx.PutSignaturePolicy(ctx, &meta.SignaturePolicy{CollectionID: ref.Collection.ID,
				Fingerprints: uniqStrings(fps), UpdatedBy: p.UserID})
		}
		if err != nil {
			return err
		}
		v, err = s.policyView(ctx, tx, ref)
		return err
	})
	return v, err
}

// maxPolicyKeys bounds a policy's list.
const maxPolicyKeys = 64

func uniqStrings(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// policyView reads a collection's policy, its keys and its images.
func (s *Service) policyView(ctx context.Context, st Store, ref Ref) (PolicyView, error) {
	v := PolicyView{Entity: ref.Entity, Collection: ref.Collection}
	pol, err := st.GetSignaturePolicy(ctx, ref.Collection.ID)
	switch {
	case apperr.Is(err, apperr.NotFound):
	case err != nil:
		return v, err
	default:
		v.Fingerprints, v.UpdatedAt = pol.Fingerprints, pol.UpdatedAt
		if u, err := st.GetUser(ctx, pol.UpdatedBy); err == nil {
			v.UpdatedBy = u.Name
		}
	}
	for _, fp := range v.Fingerprints {
		k, err := st.GetPGPKey(ctx, fp)
		if err != nil && !apperr.Is(err, apperr.NotFound) {
			return v, err
		}
		v.Keys = append(v.Keys, PolicyKey{Fingerprint: fp, Held: err == nil, Owner: k.OwnerName})
	}
	v.Images, err = s.policyImages(ctx, st, ref, v.Fingerprints)
	return v, err
}

// policyImages judges every uploaded image of a collection.
func (s *Service) policyImages(ctx context.Context, st Store, ref Ref, fps []string) ([]PolicyImage, error) {
	containers, err := st.ListContainers(ctx, ref.Collection.ID)
	if err != nil {
		return nil, err
	}
	out := []PolicyImage{}
	for _, k := range containers {
		imgs, err := st.ListImages(ctx, k.ID)
		if err != nil {
			return nil, err
		}
		tags, err := st.ListLibraryTags(ctx, k.ID)
		if err != nil {
			return nil, err
		}
		for _, img := range imgs {
			if !img.Uploaded {
				continue
			}
			pi := PolicyImage{Container: ref.Entity.Name + "/" + ref.Collection.Name + "/" + k.Name, Image: img}
			for _, t := range tags {
				if t.ImageID == img.ID {
					pi.Tags = append(pi.Tags, t.Tag)
				}
			}
			if len(fps) > 0 {
				pi.Refusal = bridge.PolicyRefusal(fps, bridge.MetaOf(img))
			}
			out = append(out, pi)
		}
	}
	return out, nil
}
