package metatest

import (
	"context"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

// testQuotas checks meta.Quotas: limits, and usage counting each blob
// once per owner.
func testQuotas(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice, bob := MkUser(t, s, "alice"), MkUser(t, s, "bob")
	_, col, con := MkContainer(t, s, alice, "alice", "c", "n")
	lib := meta.Repository{Name: "alice/c/n", ContainerID: con.ID, OwnerID: alice.ID}
	must(t, s.CreateRepository(ctx, &lib))
	plain := meta.Repository{Name: "alice/x", OwnerID: alice.ID}
	must(t, s.CreateRepository(ctx, &plain))
	bobs := meta.Repository{Name: "bob/y", OwnerID: bob.ID}
	must(t, s.CreateRepository(ctx, &bobs))
	d1, d2, d3 := blobDigest(50), blobDigest(51), blobDigest(52)
	for d, size := range map[string]int64{d1: 10, d2: 5, d3: 7} {
		must(t, s.PutBlob(ctx, d, size))
	}
	for _, l := range [][2]string{{plain.ID, d1}, {lib.ID, d1}, {lib.ID, d2}, {bobs.ID, d3}, {bobs.ID, d1}} {
		must(t, s.LinkBlob(ctx, l[0], l[1]))
	}
	usage := func(kind, id string, want int64) {
		t.Helper()
		if got, err := s.QuotaUsage(ctx, kind, id); err != nil || got != want {
			t.Fatalf("%s %s usage = %d, %v; want %d", kind, id, got, err, want)
		}
	}
	usage(meta.QuotaUser, alice.ID, 15) // d1 counted once
	usage(meta.QuotaCollection, col.ID, 15)
	usage(meta.QuotaUser, bob.ID, 17)
	for _, c := range []struct {
		kind, id, d string
		want        bool
	}{{meta.QuotaUser, alice.ID, d1, true}, {meta.QuotaUser, alice.ID, d3, false},
		{meta.QuotaCollection, col.ID, d2, true}, {meta.QuotaCollection, col.ID, d3, false}} {
		if got, err := s.QuotaHolds(ctx, c.kind, c.id, c.d); err != nil || got != c.want {
			t.Fatalf("QuotaHolds(%s %s %s) = %v, %v", c.kind, c.id, c.d, got, err)
		}
	}
	// A collected blob no longer counts.
	must(t, s.UnlinkBlob(ctx, lib.ID, d2))
	if ok, _ := s.MarkBlobDeleting(ctx, d2, time.Now().Add(time.Hour)); !ok {
		t.Fatal("not claimed")
	}
	usage(meta.QuotaCollection, col.ID, 10)

	wantCode(t, s.SetQuota(ctx, &meta.Quota{Kind: "team", SubjectID: "x", Limit: 1}), apperr.Invalid)
	_, err := s.GetQuota(ctx, meta.QuotaUser, alice.ID)
	wantCode(t, err, apperr.NotFound)
	must(t, s.SetQuota(ctx, &meta.Quota{Kind: meta.QuotaUser, SubjectID: alice.ID, Limit: 100}))
	must(t, s.SetQuota(ctx, &meta.Quota{Kind: meta.QuotaUser, SubjectID: alice.ID, Limit: 200}))
	must(t, s.SetQuota(ctx, &meta.Quota{Kind: meta.QuotaCollection, SubjectID: col.ID, Limit: 50}))
	must(t, s.InTx(ctx, func(tx meta.Store) error {
		q, err := tx.LockQuota(ctx, meta.QuotaUser, alice.ID)
		if err == nil && q.Limit != 200 {
			t.Errorf("locked quota %+v", q)
		}
		return err
	}))
	list, err := s.ListQuotas(ctx)
	must(t, err)
	if len(list) != 2 || list[0].Kind != meta.QuotaCollection || list[1].Limit != 200 {
		t.Fatalf("quotas %+v", list)
	}
	must(t, s.SetQuota(ctx, &meta.Quota{Kind: meta.QuotaUser, SubjectID: alice.ID}))
	_, err = s.GetQuota(ctx, meta.QuotaUser, alice.ID)
	wantCode(t, err, apperr.NotFound)
}
