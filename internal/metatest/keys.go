package metatest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

// testKeyring checks meta.Keyring: the keyserver's keys and lookups, the
// keyring generation, the signers of stored SIFs and their staleness,
// and collections' signature rules.
func testKeyring(t *testing.T, newStore NewStore) {
	t.Run("keys", func(t *testing.T) { testPGPKeys(t, newStore(t)) })
	t.Run("key-search", func(t *testing.T) { testPGPKeySearch(t, newStore(t)) })
	t.Run("signers", func(t *testing.T) { testSIFSigners(t, newStore(t)) })
	t.Run("signature-policies", func(t *testing.T) { testSignaturePolicies(t, newStore(t)) })
}

const (
	fpA  = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA11111111"
	fpA2 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA22222222" // a subkey of A
	fpB  = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB33333333"
)

func mkKey(owner meta.User, fp string, uids ...string) meta.PGPKey {
	k := meta.PGPKey{Fingerprint: fp, OwnerID: owner.ID, Algorithm: 22, Bits: 256,
		CreatedAt: time.Unix(1700000000, 0).UTC(), UserIDs: uids, Armored: "armored " + fp}
	k.IDs = []meta.PGPKeyID{{Fingerprint: fp, KeyID: fp[24:], ShortID: fp[32:]}}
	return k
}

func testPGPKeys(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice, bob := MkUser(t, s, "alice"), MkUser(t, s, "bob")
	gen := func() int64 {
		t.Helper()
		g, err := s.KeyringGeneration(ctx)
		must(t, err)
		return g
	}
	if g := gen(); g != 0 {
		t.Fatalf("generation of an empty keyring %d", g)
	}
	_, err := s.GetPGPKey(ctx, fpA)
	wantCode(t, err, apperr.NotFound)

	a := mkKey(alice, fpA, "Alice (work) <alice@example.org>", "Alice <a@example.net>")
	a.IDs = append(a.IDs, meta.PGPKeyID{Fingerprint: fpA2, KeyID: fpA2[24:], ShortID: fpA2[32:]})
	a.ExpiresAt = time.Unix(1900000000, 0).UTC()
	must(t, s.PutPGPKey(ctx, &a))
	if g := gen(); g != 1 {
		t.Fatalf("generation after one change %d", g)
	}
	got, err := s.GetPGPKey(ctx, fpA)
	must(t, err)
	if got.OwnerID != alice.ID || got.OwnerName != "alice" || got.Algorithm != 22 || got.Bits != 256 ||
		!got.CreatedAt.Equal(a.CreatedAt) || !got.ExpiresAt.Equal(a.ExpiresAt) || got.Revoked ||
		!slices.Equal(got.UserIDs, a.UserIDs) || got.Armored != a.Armored || got.AddedAt.IsZero() ||
		len(got.IDs) != 2 || got.IDs[0].Fingerprint != fpA || got.IDs[1].KeyID != fpA2[24:] {
		t.Fatalf("key %+v", got)
	}

	// Replacing keeps the time it was added, replaces the IDs.
	added := got.AddedAt
	a.Revoked, a.UserIDs, a.Armored = true, []string{"Alice <alice@example.org>"}, "armored again"
	a.IDs = a.IDs[:1]
	must(t, s.PutPGPKey(ctx, &a))
	got, err = s.GetPGPKey(ctx, fpA)
	must(t, err)
	if !got.Revoked || got.Armored != "armored again" || len(got.UserIDs) != 1 || len(got.IDs) != 1 ||
		!got.AddedAt.Equal(added) || got.UpdatedAt.Before(added) {
		t.Fatalf("replaced key %+v", got)
	}
	b := mkKey(bob, fpB, "Bob <bob@example.org>")
	must(t, s.PutPGPKey(ctx, &b))
	for _, tc := range []struct {
		owner string
		want  []string
	}{{alice.ID, []string{fpA}}, {bob.ID, []string{fpB}}, {"", []string{fpA, fpB}}} {
		keys, err := s.ListPGPKeys(ctx, tc.owner)
		must(t, err)
		if fps := fingerprints(keys); !slices.Equal(fps, tc.want) {
			t.Fatalf("keys of %q: %v, want %v", tc.owner, fps, tc.want)
		}
	}
	must(t, s.DeletePGPKey(ctx, fpA))
	_, err = s.GetPGPKey(ctx, fpA)
	wantCode(t, err, apperr.NotFound)
	wantCode(t, s.DeletePGPKey(ctx, fpA), apperr.NotFound)
	if g := gen(); g != 4 {
		t.Fatalf("generation after four changes %d", g)
	}
	if keys, err := s.FindPGPKeys(ctx, meta.PGPKeyQuery{KeyID: fpA[24:]}); err != nil || len(keys) != 0 {
		t.Fatalf("a removed key's ID still finds %v (%v)", keys, err)
	}
}

func fingerprints(keys []meta.PGPKey) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.Fingerprint)
	}
	return out
}

func testPGPKeySearch(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice, bob := MkUser(t, s, "alice"), MkUser(t, s, "bob")
	a := mkKey(alice, fpA, "Alice Liddell (work) <alice@example.org>", "Alice <a_b%c@example.net>")
	a.IDs = append(a.IDs, meta.PGPKeyID{Fingerprint: fpA2, KeyID: fpA2[24:], ShortID: fpA2[32:]})
	b := mkKey(bob, fpB, "Bob <bob@example.org>")
	must(t, s.PutPGPKey(ctx, &a))
	must(t, s.PutPGPKey(ctx, &b))
	for _, tc := range []struct {
		name string
		q    meta.PGPKeyQuery
		want []string
	}{
		{"fingerprint", meta.PGPKeyQuery{Fingerprint: fpB}, []string{fpB}},
		{"subkey fingerprint", meta.PGPKeyQuery{Fingerprint: fpA2}, []string{fpA}},
		{"key id", meta.PGPKeyQuery{KeyID: fpA[24:]}, []string{fpA}},
		{"subkey id", meta.PGPKeyQuery{KeyID: fpA2[24:]}, []string{fpA}},
		{"short id", meta.PGPKeyQuery{ShortID: fpB[32:]}, []string{fpB}},
		{"unknown id", meta.PGPKeyQuery{KeyID: "0123456789ABCDEF"}, nil},
		{"text, any case", meta.PGPKeyQuery{Text: "LIDDELL"}, []string{fpA}},
		{"text in both", meta.PGPKeyQuery{Text: "example.org"}, []string{fpA, fpB}},
		{"wildcards are literal", meta.PGPKeyQuery{Text: "b%c"}, []string{fpA}},
		{"wildcards match nothing else", meta.PGPKeyQuery{Text: "o_b"}, nil},
		{"exact user id", meta.PGPKeyQuery{Text: "bob <BOB@example.org>", Exact: true}, []string{fpB}},
		{"exact e-mail", meta.PGPKeyQuery{Text: "alice@example.org", Exact: true}, []string{fpA}},
		{"exact is not a substring", meta.PGPKeyQuery{Text: "alice@example", Exact: true}, nil},
		{"paged", meta.PGPKeyQuery{Text: "example", Limit: 1, Offset: 1}, []string{fpB}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := s.FindPGPKeys(ctx, tc.q)
			must(t, err)
			if fps := fingerprints(keys); !slices.Equal(fps, tc.want) {
				t.Fatalf("found %v, want %v", fps, tc.want)
			}
			for _, k := range keys {
				if len(k.IDs) == 0 || k.OwnerName == "" {
					t.Fatalf("key without IDs or owner: %+v", k)
				}
			}
		})
	}
}

func testSIFSigners(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice := MkUser(t, s, "alice")
	t0 := time.Unix(1800000000, 0).UTC()
	stale := func(at time.Time) []string {
		t.Helper()
		got, err := s.ListStaleSigners(ctx, at, 10)
		must(t, err)
		return got
	}
	gen := func() int64 {
		g, err := s.KeyringGeneration(ctx)
		must(t, err)
		return g
	}
	// Checked before any key existed; the key then arrives.
	must(t, s.RecordSIFSigners(ctx, digestA, []string{fpA}, gen(), t0))
	must(t, s.RecordSIFSigners(ctx, digestB, []string{fpB}, gen(), t0))
	if got := stale(t0); len(got) != 0 {
		t.Fatalf("stale before any change: %v", got)
	}
	a := mkKey(alice, fpA, "Alice <alice@example.org>")
	a.ExpiresAt = t0.Add(time.Hour)
	must(t, s.PutPGPKey(ctx, &a))
	if got := stale(t0); !slices.Equal(got, []string{digestA}) {
		t.Fatalf("stale after a key change %v", got)
	}
	// A newer check does not hide an older one's staleness...
	must(t, s.RecordSIFSigners(ctx, digestA, []string{fpA}, gen(), t0))
	if got := stale(t0); !slices.Equal(got, []string{digestA}) {
		t.Fatalf("stale after a newer record %v", got)
	}
	// ...a check of every image with the digest does.
	must(t, s.SetSIFSignersChecked(ctx, digestA, gen(), t0))
	if got := stale(t0); len(got) != 0 {
		t.Fatalf("stale after the re-check %v", got)
	}
	// The key expires: checks made before that are stale after it.
	if got := stale(t0.Add(2 * time.Hour)); !slices.Equal(got, []string{digestA}) {
		t.Fatalf("stale after expiry %v", got)
	}
	must(t, s.SetSIFSignersChecked(ctx, digestA, gen(), t0.Add(2*time.Hour)))
	if got := stale(t0.Add(3 * time.Hour)); len(got) != 0 {
		t.Fatalf("stale after a check past expiry %v", got)
	}
	// A removal counts as a change.
	must(t, s.DeletePGPKey(ctx, fpA))
	if got := stale(t0); !slices.Equal(got, []string{digestA}) {
		t.Fatalf("stale after removal %v", got)
	}
	must(t, s.DeleteSIFSigners(ctx, digestA))
	if got := stale(t0); len(got) != 0 {
		t.Fatalf("stale after forgetting the digest %v", got)
	}
}

func testSignaturePolicies(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice := MkUser(t, s, "alice")
	_, col, _ := MkContainer(t, s, alice, "alice", "signed", "app")
	_, err := s.GetSignaturePolicy(ctx, col.ID)
	wantCode(t, err, apperr.NotFound)
	wantCode(t, s.PutSignaturePolicy(ctx, &meta.SignaturePolicy{CollectionID: "nope", Fingerprints: []string{fpA}}), apperr.NotFound)
	p := meta.SignaturePolicy{CollectionID: col.ID, Fingerprints: []string{fpA, fpB}, UpdatedBy: alice.ID}
	must(t, s.PutSignaturePolicy(ctx, &p))
	got, err := s.GetSignaturePolicy(ctx, col.ID)
	must(t, err)
	if !slices.Equal(got.Fingerprints, []string{fpA, fpB}) || got.UpdatedBy != alice.ID || got.UpdatedAt.IsZero() {
		t.Fatalf("policy %+v", got)
	}
	p.Fingerprints = []string{fpB}
	must(t, s.PutSignaturePolicy(ctx, &p))
	if got, _ := s.GetSignaturePolicy(ctx, col.ID); !slices.Equal(got.Fingerprints, []string{fpB}) {
		t.Fatalf("replaced policy %+v", got)
	}
	must(t, s.DeleteSignaturePolicy(ctx, col.ID))
	must(t, s.DeleteSignaturePolicy(ctx, col.ID))
	_, err = s.GetSignaturePolicy(ctx, col.ID)
	wantCode(t, err, apperr.NotFound)
	// A deleted collection takes its rule with it.
	must(t, s.PutSignaturePolicy(ctx, &p))
	must(t, s.DeleteCollection(ctx, col.ID))
	_, err = s.GetSignaturePolicy(ctx, col.ID)
	wantCode(t, err, apperr.NotFound)
}
