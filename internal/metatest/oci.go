package metatest

import (
	"context"
	"fmt"
	"testing"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

// testOCI checks meta.OCI (repositories, manifests, tags, referrers, blobs).
func testOCI(t *testing.T, newStore NewStore) {
	t.Run("repositories", func(t *testing.T) { testRepositories(t, newStore(t)) })
	t.Run("blobs", func(t *testing.T) { testOCIBlobs(t, newStore(t)) })
	t.Run("manifests", func(t *testing.T) { testManifests(t, newStore(t)) })
	t.Run("tags", func(t *testing.T) { testOCITags(t, newStore(t)) })
	t.Run("referrers", func(t *testing.T) { testReferrers(t, newStore(t)) })
}

func mkRepo(t *testing.T, s meta.Store, name string) meta.Repository {
	t.Helper()
	r := meta.Repository{Name: name}
	must(t, s.CreateRepository(context.Background(), &r))
	return r
}

func mkManifest(t *testing.T, s meta.Store, repo meta.Repository, digest, subject string, refs ...string) meta.Manifest {
	t.Helper()
	m := meta.Manifest{RepositoryID: repo.ID, Digest: digest, MediaType: "application/vnd.oci.image.manifest.v1+json",
		Content: []byte(`{"schemaVersion":2,"d":"` + digest + `"}`), Subject: subject}
	must(t, s.PutManifest(context.Background(), &m, refs))
	return m
}

func testRepositories(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice := MkUser(t, s, "alice")
	_, _, con := MkContainer(t, s, alice, "alice", "tools", "python")
	lib := meta.Repository{Name: "alice/tools/python", ContainerID: con.ID, OwnerID: alice.ID}
	must(t, s.CreateRepository(ctx, &lib))
	wantCode(t, s.CreateRepository(ctx, &meta.Repository{Name: "alice/tools/python"}), apperr.Conflict)
	plain := meta.Repository{Name: "alice/Z", OwnerID: alice.ID, Private: true}
	must(t, s.CreateRepository(ctx, &plain))
	mkRepo(t, s, "alice/a")
	mkRepo(t, s, "bob")

	got, err := s.GetRepository(ctx, "alice/tools/python")
	must(t, err)
	if got.ID != lib.ID || got.ContainerID != con.ID || got.OwnerID != alice.ID || !got.CreatedAt.Equal(lib.CreatedAt) {
		t.Fatalf("got %+v, want %+v", got, lib)
	}
	if got, err = s.GetRepositoryByContainer(ctx, con.ID); err != nil || got.ID != lib.ID {
		t.Fatalf("by container: %+v %v", got, err)
	}
	if got, _ = s.GetRepository(ctx, "alice/Z"); !got.Private || got.ContainerID != "" {
		t.Fatalf("plain repo %+v", got)
	}
	_, err = s.GetRepository(ctx, "nope")
	wantCode(t, err, apperr.NotFound)

	// Byte order: "Z" sorts before "a".
	names := func(last string, n int) string {
		list, err := s.ListRepositories(ctx, last, n)
		must(t, err)
		out := ""
		for _, r := range list {
			out += r.Name + " "
		}
		return out
	}
	if got := names("", 0); got != "alice/Z alice/a alice/tools/python bob " {
		t.Fatalf("all repositories: %q", got)
	}
	if got := names("alice/Z", 2); got != "alice/a alice/tools/python " {
		t.Fatalf("page: %q", got)
	}
	plain.Private = false
	must(t, s.UpdateRepository(ctx, &plain))
	if got, _ = s.GetRepository(ctx, "alice/Z"); got.Private {
		t.Fatal("update lost")
	}
	// Deleting the library container removes its repository.
	must(t, s.DeleteContainer(ctx, con.ID))
	_, err = s.GetRepository(ctx, "alice/tools/python")
	wantCode(t, err, apperr.NotFound)
}

func testOCIBlobs(t *testing.T, s meta.Store) {
	ctx := context.Background()
	a, b := mkRepo(t, s, "a"), mkRepo(t, s, "b")
	const d = "sha256:0000000000000000000000000000000000000000000000000000000000000001"
	wantCode(t, s.LinkBlob(ctx, a.ID, d), apperr.NotFound) // never recorded
	must(t, s.PutBlob(ctx, d, 42))
	must(t, s.PutBlob(ctx, d, 42)) // idempotent
	must(t, s.LinkBlob(ctx, a.ID, d))
	rec, err := s.GetRepositoryBlob(ctx, a.ID, d)
	must(t, err)
	if rec.Size != 42 || rec.Digest != d {
		t.Fatalf("blob %+v", rec)
	}
	must(t, s.LinkBlob(ctx, a.ID, d))
	must(t, s.LinkBlob(ctx, a.ID, d)) // idempotent
	if rec, err = s.GetRepositoryBlob(ctx, a.ID, d); err != nil || rec.Size != 42 {
		t.Fatalf("linked blob %+v %v", rec, err)
	}
	_, err = s.GetRepositoryBlob(ctx, b.ID, d)
	wantCode(t, err, apperr.NotFound) // blobs are served per repository
	must(t, s.UnlinkBlob(ctx, a.ID, d))
	wantCode(t, s.UnlinkBlob(ctx, a.ID, d), apperr.NotFound)
	_, err = s.GetRepositoryBlob(ctx, a.ID, d)
	wantCode(t, err, apperr.NotFound)
}

func testManifests(t *testing.T, s meta.Store) {
	ctx := context.Background()
	repo := mkRepo(t, s, "a")
	content := []byte("{\n  \"schemaVersion\": 2,\x00 \"odd\": \"\xff bytes kept\"}")
	m := meta.Manifest{RepositoryID: repo.ID, Digest: "sha256:m1", MediaType: "application/x-test", Content: content,
		ArtifactType: "application/x-art", ConfigMediaType: "application/x-cfg", Annotations: `{"k":"v"}`}
	must(t, s.PutManifest(ctx, &m, []string{"sha256:c", "sha256:l"}))
	again := m
	again.Content = []byte("other")
	must(t, s.PutManifest(ctx, &again, []string{"sha256:c"})) // repeat push keeps the first
	got, err := s.GetManifest(ctx, repo.ID, "sha256:m1")
	must(t, err)
	if string(got.Content) != string(content) || got.Size != int64(len(content)) || got.MediaType != "application/x-test" ||
		got.ArtifactType != "application/x-art" || got.ConfigMediaType != "application/x-cfg" || got.Annotations != `{"k":"v"}` {
		t.Fatalf("manifest %+v", got)
	}
	must(t, s.PutTag(ctx, &meta.Tag{RepositoryID: repo.ID, Name: "v1", Digest: "sha256:m1"}))
	must(t, s.DeleteManifest(ctx, repo.ID, "sha256:m1"))
	_, err = s.GetManifest(ctx, repo.ID, "sha256:m1")
	wantCode(t, err, apperr.NotFound)
	_, err = s.GetTag(ctx, repo.ID, "v1")
	wantCode(t, err, apperr.NotFound) // tags go with their manifest
	wantCode(t, s.DeleteManifest(ctx, repo.ID, "sha256:m1"), apperr.NotFound)
	// The same digest in another repository is another row.
	other := mkRepo(t, s, "b")
	mkManifest(t, s, other, "sha256:m1", "")
	_, err = s.GetManifest(ctx, repo.ID, "sha256:m1")
	wantCode(t, err, apperr.NotFound)
}

func testOCITags(t *testing.T, s meta.Store) {
	ctx := context.Background()
	repo := mkRepo(t, s, "a")
	mkManifest(t, s, repo, "sha256:m1", "")
	mkManifest(t, s, repo, "sha256:m2", "")
	wantCode(t, s.PutTag(ctx, &meta.Tag{RepositoryID: repo.ID, Name: "x", Digest: "sha256:none"}), apperr.NotFound)
	for i, name := range []string{"b", "B", "a", "a-1", "Z9", "_"} {
		must(t, s.PutTag(ctx, &meta.Tag{RepositoryID: repo.ID, Name: name, Digest: fmt.Sprintf("sha256:m%d", 1+i%2)}))
	}
	must(t, s.PutTag(ctx, &meta.Tag{RepositoryID: repo.ID, Name: "a", Digest: "sha256:m2"})) // moves
	tag, err := s.GetTag(ctx, repo.ID, "a")
	must(t, err)
	if tag.Digest != "sha256:m2" {
		t.Fatalf("tag %+v", tag)
	}
	list := func(last string, n int) string {
		tags, err := s.ListTags(ctx, repo.ID, last, n)
		must(t, err)
		out := ""
		for _, t := range tags {
			out += t.Name + " "
		}
		return out
	}
	if got := list("", 0); got != "B Z9 _ a a-1 b " { // byte order
		t.Fatalf("tags %q", got)
	}
	if got := list("Z9", 2); got != "_ a " {
		t.Fatalf("page %q", got)
	}
	for1, err := s.ListTagsFor(ctx, repo.ID, "sha256:m1")
	must(t, err)
	if len(for1) != 2 || for1[0].Name != "Z9" || for1[1].Name != "b" {
		t.Fatalf("tags for m1 %+v", for1)
	}
	must(t, s.DeleteTag(ctx, repo.ID, "b"))
	wantCode(t, s.DeleteTag(ctx, repo.ID, "b"), apperr.NotFound)
	if _, err := s.GetManifest(ctx, repo.ID, "sha256:m1"); err != nil {
		t.Fatal("deleting a tag removed its manifest")
	}
}

func testReferrers(t *testing.T, s meta.Store) {
	ctx := context.Background()
	repo, other := mkRepo(t, s, "a"), mkRepo(t, s, "b")
	// The subject need not exist.
	mkManifest(t, s, repo, "sha256:r1", "sha256:subj")
	mkManifest(t, s, repo, "sha256:r2", "sha256:subj")
	mkManifest(t, s, repo, "sha256:x", "sha256:else")
	mkManifest(t, s, other, "sha256:r3", "sha256:subj")
	refs, err := s.ListReferrers(ctx, repo.ID, "sha256:subj")
	must(t, err)
	if len(refs) != 2 || refs[0].Digest != "sha256:r1" || refs[1].Digest != "sha256:r2" || len(refs[0].Content) != 0 || refs[0].Size == 0 {
		t.Fatalf("referrers %+v", refs)
	}
	none, err := s.ListReferrers(ctx, repo.ID, "sha256:nothing")
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("referrers of unknown %+v", none)
	}
}
