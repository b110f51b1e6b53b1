package metatest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

// testBlobLife checks the blob rows of the garbage collector's protocol
// (meta.BlobPins, meta.BlobCollection, TouchRepositoryBlob).
func testBlobLife(t *testing.T, newStore NewStore) {
	t.Run("pins", func(t *testing.T) { testPins(t, newStore(t)) })
	t.Run("collectable", func(t *testing.T) { testCollectable(t, newStore(t)) })
	t.Run("claims", func(t *testing.T) { testClaims(t, newStore(t)) })
	t.Run("links", func(t *testing.T) { testStaleLinks(t, newStore(t)) })
	t.Run("lock", func(t *testing.T) { testCollectorLock(t, newStore(t)) })
}

func blobDigest(i int) string { return fmt.Sprintf("sha256:%064x", i) }

// cutoffs: nothing is older than past; everything is older than future.
func cutoffs() (past, future time.Time) {
	return time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
}

func digests(recs []meta.BlobRecord) map[string]bool {
	out := map[string]bool{}
	for _, r := range recs {
		out[r.Digest] = true
	}
	return out
}

func testPins(t *testing.T, s meta.Store) {
	ctx := context.Background()
	d := blobDigest(1)
	gen, err := s.PinBlob(ctx, d)
	must(t, err)
	wantCode(t, s.ConfirmBlob(ctx, d, 10, gen+1), apperr.Unavailable) // another generation
	must(t, s.ConfirmBlob(ctx, d, 10, gen))
	again, err := s.PinBlob(ctx, d)
	if err != nil || again != gen {
		t.Fatalf("pinning a live blob again = %d, %v; want its generation %d", again, err, gen)
	}
	repo := mkRepo(t, s, "a")
	must(t, s.LinkBlob(ctx, repo.ID, d))
	if rec, err := s.GetRepositoryBlob(ctx, repo.ID, d); err != nil || rec.Size != 10 {
		t.Fatalf("confirmed blob = %+v, %v", rec, err)
	}
	// A blob the collector removed comes back only through a new pin,
	// with a new generation.
	_, future := cutoffs()
	must(t, s.UnlinkBlob(ctx, repo.ID, d))
	if ok, err := s.MarkBlobDeleting(ctx, d, future); err != nil || !ok {
		t.Fatalf("MarkBlobDeleting = %v, %v", ok, err)
	}
	must(t, s.MarkBlobGone(ctx, d))
	wantCode(t, s.PutBlob(ctx, d, 10), apperr.NotFound)
	wantCode(t, s.LinkBlob(ctx, repo.ID, d), apperr.NotFound)
	wantCode(t, s.ConfirmBlob(ctx, d, 10, gen), apperr.Unavailable)
	revived, err := s.PinBlob(ctx, d)
	must(t, err)
	if revived == gen {
		t.Fatalf("a revived blob kept its generation %d", gen)
	}
	wantCode(t, s.ConfirmBlob(ctx, d, 10, gen), apperr.Unavailable)
	must(t, s.ConfirmBlob(ctx, d, 10, revived))
	must(t, s.PutBlob(ctx, d, 10))
	must(t, s.LinkBlob(ctx, repo.ID, d))
}

func testCollectable(t *testing.T, s meta.Store) {
	ctx := context.Background()
	past, future := cutoffs()
	alice := MkUser(t, s, "alice")
	_, _, con := MkContainer(t, s, alice, "alice", "c", "n")
	repo := mkRepo(t, s, "r")
	free, byManifest, byImage, linked := blobDigest(10), blobDigest(11), blobDigest(12), blobDigest(13)
	for _, d := range []string{free, byManifest, byImage, linked} {
		must(t, s.PutBlob(ctx, d, 5))
	}
	must(t, s.LinkBlob(ctx, repo.ID, byManifest))
	mkManifest(t, s, repo, "sha256:m", "", byManifest)
	mkImage(t, s, con, byImage, "amd64", 5)
	must(t, s.LinkBlob(ctx, repo.ID, linked))

	recent, err := s.ListCollectable(ctx, past, "", 0)
	must(t, err)
	if len(recent) != 0 {
		t.Fatalf("blobs touched within the grace period are collectable: %v", recent)
	}
	got, err := s.ListCollectable(ctx, future, "", 0)
	must(t, err)
	// linked's link is older than the cutoff too, and refers to nothing.
	if want := map[string]bool{free: true, linked: true}; fmt.Sprint(digests(got)) != fmt.Sprint(want) {
		t.Fatalf("collectable = %v, want %v", digests(got), want)
	}
	if page, _ := s.ListCollectable(ctx, future, free, 1); len(page) != 1 || page[0].Digest != linked {
		t.Fatalf("page after %s = %v", free, page)
	}
	for _, d := range []string{byManifest, byImage} {
		if ok, err := s.MarkBlobDeleting(ctx, d, future); err != nil || ok {
			t.Fatalf("a referenced blob was claimed: %v, %v", ok, err)
		}
	}
	if ok, _ := s.MarkBlobDeleting(ctx, free, past); ok {
		t.Fatal("a blob touched within the grace period was claimed")
	}
	if ok, err := s.MarkBlobDeleting(ctx, linked, future); err != nil || !ok {
		t.Fatalf("MarkBlobDeleting = %v, %v", ok, err)
	}
	// Claimed: nothing may rely on it.
	wantCode(t, s.PutBlob(ctx, linked, 5), apperr.Unavailable)
	wantCode(t, s.LinkBlob(ctx, repo.ID, linked), apperr.Unavailable)
	_, err = s.GetRepositoryBlob(ctx, repo.ID, linked)
	wantCode(t, err, apperr.NotFound)
	_, err = s.TouchRepositoryBlob(ctx, repo.ID, linked)
	wantCode(t, err, apperr.NotFound)
	deleting, err := s.ListDeletingBlobs(ctx)
	must(t, err)
	if len(deleting) != 1 || deleting[0].Digest != linked {
		t.Fatalf("deleting = %v", deleting)
	}
	must(t, s.MarkBlobGone(ctx, linked))
	if deleting, _ = s.ListDeletingBlobs(ctx); len(deleting) != 0 {
		t.Fatalf("deleting after gone = %v", deleting)
	}
	wantCode(t, s.MarkBlobGone(ctx, linked), apperr.NotFound)
	// A touched link and blob are not collectable at a cutoff before the
	// touch.
	rec, err := s.TouchRepositoryBlob(ctx, repo.ID, byManifest)
	if err != nil || rec.Size != 5 {
		t.Fatalf("TouchRepositoryBlob = %+v, %v", rec, err)
	}
	_, err = s.TouchRepositoryBlob(ctx, repo.ID, free) // not linked
	wantCode(t, err, apperr.NotFound)
}

func testClaims(t *testing.T, s meta.Store) {
	ctx := context.Background()
	orphan, live := blobDigest(20), blobDigest(21)
	must(t, s.PutBlob(ctx, live, 1))
	if ok, err := s.ClaimOrphan(ctx, live, 1); err != nil || ok {
		t.Fatalf("a live blob claimed as an orphan: %v, %v", ok, err)
	}
	if ok, err := s.ClaimOrphan(ctx, orphan, 7); err != nil || !ok {
		t.Fatalf("ClaimOrphan = %v, %v", ok, err)
	}
	many := []string{live, orphan}
	for i := range 600 { // more than one query's worth
		many = append(many, blobDigest(1000+i))
	}
	states, err := s.BlobStates(ctx, many)
	must(t, err)
	if len(states) != 2 || states[live] != meta.BlobLive || states[orphan] != meta.BlobDeleting {
		t.Fatalf("BlobStates = %v", states)
	}
	if ok, _ := s.ClaimOrphan(ctx, orphan, 7); ok {
		t.Fatal("an orphan claimed twice")
	}
	_, err = s.PinBlob(ctx, orphan) // the collector is not running: its claim is taken over
	must(t, err)
	must(t, s.PutBlob(ctx, orphan, 7))
	// A tombstone whose bytes turn up again is an orphan too.
	_, soon := cutoffs()
	if ok, _ := s.MarkBlobDeleting(ctx, orphan, soon); !ok {
		t.Fatal("not claimed")
	}
	must(t, s.MarkBlobGone(ctx, orphan))
	if ok, err := s.ClaimOrphan(ctx, orphan, 7); err != nil || !ok {
		t.Fatalf("ClaimOrphan of a tombstone = %v, %v", ok, err)
	}
	must(t, s.MarkBlobGone(ctx, orphan))
	past, future := cutoffs()
	if n, err := s.PurgeTombstones(ctx, past); err != nil || n != 0 {
		t.Fatalf("PurgeTombstones(past) = %d, %v", n, err)
	}
	if n, err := s.PurgeTombstones(ctx, future); err != nil || n != 1 {
		t.Fatalf("PurgeTombstones(future) = %d, %v", n, err)
	}
	if states, _ := s.BlobStates(ctx, []string{orphan, live}); len(states) != 1 {
		t.Fatalf("after purging tombstones: %v", states)
	}
}

func testStaleLinks(t *testing.T, s meta.Store) {
	ctx := context.Background()
	past, future := cutoffs()
	alice := MkUser(t, s, "alice")
	_, _, con := MkContainer(t, s, alice, "alice", "c", "n")
	lib := meta.Repository{Name: "alice/c/n", ContainerID: con.ID}
	must(t, s.CreateRepository(ctx, &lib))
	a, b := mkRepo(t, s, "a"), mkRepo(t, s, "b")
	used, sif, loose := blobDigest(30), blobDigest(31), blobDigest(32)
	for _, d := range []string{used, sif, loose} {
		must(t, s.PutBlob(ctx, d, 3))
	}
	for _, l := range [][2]string{{a.ID, used}, {b.ID, used}, {lib.ID, sif}, {a.ID, loose}} {
		must(t, s.LinkBlob(ctx, l[0], l[1]))
	}
	mkManifest(t, s, a, "sha256:m", "", used)
	mkImage(t, s, con, sif, "amd64", 3)
	if got, _ := s.StaleLinks(ctx, past, meta.Link{}, 0); len(got) != 0 {
		t.Fatalf("links made within the grace period are stale: %v", got)
	}
	got, err := s.StaleLinks(ctx, future, meta.Link{}, 0)
	must(t, err)
	want := map[string]bool{b.ID + " " + used: true, a.ID + " " + loose: true}
	if len(got) != len(want) {
		t.Fatalf("stale links = %v, want %v", got, want)
	}
	for _, l := range got {
		if !want[l.RepositoryID+" "+l.Digest] || l.Size != 3 {
			t.Fatalf("stale link %+v, want one of %v", l, want)
		}
	}
	if page, _ := s.StaleLinks(ctx, future, got[0], 5); len(page) != 1 || page[0] != got[1] {
		t.Fatalf("page after %v = %v", got[0], page)
	}
	if ok, _ := s.DropStaleLink(ctx, meta.Link{RepositoryID: a.ID, Digest: used}, future); ok {
		t.Fatal("a link a manifest uses was dropped")
	}
	if ok, _ := s.DropStaleLink(ctx, meta.Link{RepositoryID: a.ID, Digest: loose}, past); ok {
		t.Fatal("a fresh link was dropped")
	}
	if ok, err := s.DropStaleLink(ctx, meta.Link{RepositoryID: a.ID, Digest: loose}, future); err != nil || !ok {
		t.Fatalf("DropStaleLink = %v, %v", ok, err)
	}
	_, err = s.GetRepositoryBlob(ctx, a.ID, loose)
	wantCode(t, err, apperr.NotFound)
}

func testCollectorLock(t *testing.T, s meta.Store) {
	ctx := context.Background()
	unlock, ok, err := s.LockCollector(ctx)
	if err != nil || !ok {
		t.Fatalf("LockCollector = %v, %v", ok, err)
	}
	if again, ok, err := s.LockCollector(ctx); err != nil || ok {
		if ok {
			again()
		}
		t.Fatalf("a second collector got the lock: %v, %v", ok, err)
	}
	d := blobDigest(40)
	if ok, _ := s.ClaimOrphan(ctx, d, 1); !ok {
		t.Fatal("not claimed")
	}
	// While the collector runs, its claim stands.
	_, err = s.PinBlob(ctx, d)
	wantCode(t, err, apperr.Unavailable)
	unlock()
	if _, err := s.PinBlob(ctx, d); err != nil {
		t.Fatalf("pin after the collector ended: %v", err)
	}
	unlock, ok, err = s.LockCollector(ctx)
	if err != nil || !ok {
		t.Fatalf("LockCollector after unlock = %v, %v", ok, err)
	}
	unlock()
}
