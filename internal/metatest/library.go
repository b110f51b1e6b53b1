package metatest

import (
	"context"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

// testLibrary checks meta.Library (images, per-arch tags, labels, search).
func testLibrary(t *testing.T, newStore NewStore) {
	t.Run("images", func(t *testing.T) { testImages(t, newStore(t)) })
	t.Run("tags", func(t *testing.T) { testLibraryTags(t, newStore(t)) })
	t.Run("labels", func(t *testing.T) { testLabels(t, newStore(t)) })
	t.Run("search", func(t *testing.T) { testSearch(t, newStore) })
	t.Run("uploads-for", func(t *testing.T) { testUploadsFor(t, newStore(t)) })
	t.Run("sif-metadata", func(t *testing.T) { testSIFMetadata(t, newStore) })
}

const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// mkImage creates an uploaded image for tests.
func mkImage(t *testing.T, s meta.Store, con meta.Container, digest, arch string, size int64) meta.Image {
	t.Helper()
	img := meta.Image{ContainerID: con.ID, Digest: digest, Arch: arch, Size: size, Uploaded: true}
	must(t, s.CreateImage(context.Background(), &img))
	return img
}

func testImages(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice := MkUser(t, s, "alice")
	ent, _, con := MkContainer(t, s, alice, "alice", "tools", "python")
	_, _, other := MkContainer(t, s, alice, "alice", "tools", "ruby")
	img := meta.Image{ContainerID: con.ID, Digest: digestA, Description: "first", CreatedBy: alice.ID}
	must(t, s.CreateImage(ctx, &img))
	if img.ID == "" || img.CreatedAt.IsZero() || img.Metadata != "{}" || img.Uploaded {
		t.Fatalf("create did not fill defaults: %+v", img)
	}
	wantCode(t, s.CreateImage(ctx, &meta.Image{ContainerID: con.ID, Digest: digestA}), apperr.Conflict)
	// The same content in another container is another image.
	twin := mkImage(t, s, other, digestA, "amd64", 10)
	got, err := s.GetImageByDigest(ctx, con.ID, digestA)
	must(t, err)
	if got.ID != img.ID || got.Description != "first" || got.CreatedBy != alice.ID {
		t.Fatalf("by digest: %+v", got)
	}
	_, err = s.GetImageByDigest(ctx, con.ID, digestB)
	wantCode(t, err, apperr.NotFound)

	got.Uploaded, got.Size, got.Arch, got.Metadata, got.ManifestDigest = true, 1<<40, "arm64", `{"signed":true}`, digestB
	must(t, s.UpdateImage(ctx, &got))
	again, err := s.GetImage(ctx, img.ID)
	must(t, err)
	if !again.Uploaded || again.Size != 1<<40 || again.Arch != "arm64" || again.Metadata != `{"signed":true}` || again.ManifestDigest != digestB {
		t.Fatalf("update lost: %+v", again)
	}
	wantCode(t, s.UpdateImage(ctx, &meta.Image{ID: "nope"}), apperr.NotFound)

	byDigest, err := s.ListImagesByDigest(ctx, digestA)
	must(t, err)
	if len(byDigest) != 2 {
		t.Fatalf("by digest across containers: %+v", byDigest)
	}
	usage, err := s.EntityUsage(ctx, ent.ID)
	must(t, err)
	if usage != 1<<40+10 {
		t.Fatalf("usage %d", usage)
	}
	list, err := s.ListImages(ctx, con.ID)
	must(t, err)
	if len(list) != 1 || list[0].ID != img.ID {
		t.Fatalf("list %+v", list)
	}
	must(t, s.DeleteImage(ctx, twin.ID))
	wantCode(t, s.DeleteImage(ctx, twin.ID), apperr.NotFound)
	_, err = s.GetImage(ctx, twin.ID)
	wantCode(t, err, apperr.NotFound)
	// Deleting the container takes its images along.
	must(t, s.DeleteContainer(ctx, con.ID))
	_, err = s.GetImage(ctx, img.ID)
	wantCode(t, err, apperr.NotFound)
}

func testLibraryTags(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice := MkUser(t, s, "alice")
	_, _, con := MkContainer(t, s, alice, "alice", "tools", "python")
	a := mkImage(t, s, con, digestA, "amd64", 1)
	b := mkImage(t, s, con, digestB, "arm64", 2)
	must(t, s.SetLibraryTag(ctx, &meta.LibraryTag{ContainerID: con.ID, Arch: "amd64", Tag: "latest", ImageID: a.ID}))
	must(t, s.SetLibraryTag(ctx, &meta.LibraryTag{ContainerID: con.ID, Arch: "arm64", Tag: "latest", ImageID: b.ID}))
	must(t, s.SetLibraryTag(ctx, &meta.LibraryTag{ContainerID: con.ID, Arch: "amd64", Tag: "v1", ImageID: a.ID}))
	got, err := s.GetLibraryTag(ctx, con.ID, "arm64", "latest")
	must(t, err)
	if got.ImageID != b.ID || got.UpdatedAt.IsZero() {
		t.Fatalf("arm64 latest %+v", got)
	}
	// Setting an existing tag moves it.
	must(t, s.SetLibraryTag(ctx, &meta.LibraryTag{ContainerID: con.ID, Arch: "amd64", Tag: "v1", ImageID: b.ID}))
	if got, _ = s.GetLibraryTag(ctx, con.ID, "amd64", "v1"); got.ImageID != b.ID {
		t.Fatalf("tag not moved: %+v", got)
	}
	_, err = s.GetLibraryTag(ctx, con.ID, "", "latest")
	wantCode(t, err, apperr.NotFound)
	list, err := s.ListLibraryTags(ctx, con.ID)
	must(t, err)
	if len(list) != 3 || list[0].Tag != "latest" || list[0].Arch != "amd64" || list[1].Arch != "arm64" || list[2].Tag != "v1" {
		t.Fatalf("list %+v", list)
	}
	// Deleting an image drops the tags naming it.
	must(t, s.DeleteImage(ctx, b.ID))
	list, err = s.ListLibraryTags(ctx, con.ID)
	must(t, err)
	if len(list) != 1 || list[0].ImageID != a.ID {
		t.Fatalf("after delete %+v", list)
	}
	wantCode(t, s.SetLibraryTag(ctx, &meta.LibraryTag{ContainerID: con.ID, Arch: "amd64", Tag: "x", ImageID: "no-such-image"}), apperr.Internal)
}

func testLabels(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice := MkUser(t, s, "alice")
	_, _, con := MkContainer(t, s, alice, "alice", "tools", "python")
	img := mkImage(t, s, con, digestA, "amd64", 1)
	must(t, s.SetLabels(ctx, img.ID, map[string]string{"maintainer": "alice", "version": "1"}))
	must(t, s.SetLabels(ctx, img.ID, map[string]string{"maintainer": "bob"}))
	got, err := s.GetLabels(ctx, img.ID)
	must(t, err)
	if len(got) != 1 || got["maintainer"] != "bob" {
		t.Fatalf("labels %v", got)
	}
	must(t, s.DeleteImage(ctx, img.ID))
	if got, _ = s.GetLabels(ctx, img.ID); len(got) != 0 {
		t.Fatalf("labels outlived their image: %v", got)
	}
}

func testUploadsFor(t *testing.T, s meta.Store) {
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	old := meta.Upload{Kind: "library", Target: "img1", ExpiresAt: exp, CreatedAt: time.Now().Add(-time.Minute).UTC().Truncate(time.Microsecond)}
	must(t, s.CreateUpload(ctx, &old))
	recent := meta.Upload{Kind: "library", Target: "img1", ExpiresAt: exp}
	must(t, s.CreateUpload(ctx, &recent))
	must(t, s.CreateUpload(ctx, &meta.Upload{Kind: "library-multipart", Target: "img1", ExpiresAt: exp}))
	must(t, s.CreateUpload(ctx, &meta.Upload{Kind: "library", Target: "img2", ExpiresAt: exp}))
	got, err := s.ListUploadsFor(ctx, "library", "img1")
	must(t, err)
	if len(got) != 2 || got[0].ID != recent.ID || got[1].ID != old.ID {
		t.Fatalf("uploads for img1: %+v", got)
	}
}
