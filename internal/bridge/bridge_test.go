package bridge_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/sylabs/sif/v2/pkg/sif"

	"github.com/silo-hpc/silo/internal/access"
	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/fsblob"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
	"github.com/silo-hpc/silo/internal/sqlmeta"
)

type fixture struct {
	ms    *sqlmeta.Store
	bs    *fsblob.Store
	b     *bridge.Bridge
	users map[string]auth.Principal
}

func newFixture(t *testing.T, policy access.Policy) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	ms, err := sqlmeta.OpenSQLite(ctx, filepath.Join(dir, "silo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	bs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{ms: ms, bs: bs, b: bridge.New(bs, access.Checker{Policy: policy}), users: map[string]auth.Principal{}}
	if err := f.b.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	a := auth.New(ms)
	for name, role := range map[string]meta.Role{"alice": meta.RoleUser, "bob": meta.RoleUser, "mgr": meta.RoleManager, "root": meta.RoleAdmin} {
		u, err := a.CreateUser(ctx, name, role, "")
		if err != nil {
			t.Fatal(err)
		}
		f.users[name] = auth.Principal{UserID: u.ID, Name: name, Role: role}
	}
	return f
}

// sifBlob stores a small SIF for arch as a committed blob.
func (f *fixture) sifBlob(t *testing.T, arch string, seed byte) (digest.Digest, int64) {
	t.Helper()
	var buf sif.Buffer
	di, err := sif.NewDescriptorInput(sif.DataPartition, bytes.NewReader(bytes.Repeat([]byte{seed}, 4096)),
		sif.OptPartitionMetadata(sif.FsSquash, sif.PartPrimSys, arch))
	if err != nil {
		t.Fatal(err)
	}
	labels, _ := sif.NewDescriptorInput(sif.DataLabels, strings.NewReader(`{"maintainer":"alice","n":1}`))
	img, err := sif.CreateContainer(&buf, sif.OptCreateWithDescriptors(di, labels), sif.OptCreateDeterministic())
	if err != nil {
		t.Fatal(err)
	}
	img.UnloadContainer()
	ctx := context.Background()
	w, err := f.bs.NewUpload(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(buf.Bytes())
	d := digest.FromBytes(buf.Bytes())
	if _, err := w.Commit(ctx, d, int64(buf.Len())); err != nil {
		t.Fatal(err)
	}
	return d, int64(buf.Len())
}

func (f *fixture) push(who, path string, create bool) (bridge.Ref, error) {
	var ref bridge.Ref
	err := f.ms.InTx(context.Background(), func(tx meta.Store) error {
		var err error
		ref, err = f.b.ContainerForPush(context.Background(), tx, f.users[who], path, create)
		return err
	})
	return ref, err
}

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if !apperr.Is(err, code) {
		t.Fatalf("got %v (code %s), want %s", err, apperr.CodeOf(err), code)
	}
}

// The push rules the library and the registry both apply, and the one
// answer for what a pusher may not see or may not create.
func TestContainerForPush(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, access.Policy{UserCollections: false, DefaultPrivate: true})
	// user_collections: false keeps users from creating collections, even
	// in their own entity; managers may, anywhere.
	_, err := f.push("alice", "alice/tools/app", true)
	wantCode(t, err, apperr.Denied)
	// Deciding creates nothing.
	if _, err := f.push("mgr", "alice/tools/app", false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ms.GetEntityByName(ctx, "alice"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("a decision created the entity: %v", err)
	}
	// The entity named after alice is hers, whoever creates it.
	ref, err := f.push("mgr", "alice/tools/app", true)
	if err != nil || !ref.Collection.Private || ref.Collection.OwnerID != f.users["mgr"].UserID || ref.Entity.OwnerID != f.users["alice"].UserID {
		t.Fatalf("manager push: %+v %v", ref, err)
	}
	// Another user's name space, a private collection, a missing one:
	// one answer.
	var msgs []string
	for _, path := range []string{"alice/tools/app", "alice/nope/app"} {
		_, err := f.push("alice", path, false)
		wantCode(t, err, apperr.Denied)
		msgs = append(msgs, strings.ReplaceAll(apperr.MessageOf(err), path, "P"))
	}
	if msgs[0] != msgs[1] {
		t.Fatalf("private and missing answer differently: %q", msgs)
	}
	_, err = f.push("bob", "bob2/x/y", true)
	wantCode(t, err, apperr.Denied)
	_, err = f.push("", "alice/tools/app", true)
	wantCode(t, err, apperr.Unauthenticated)
	_, err = f.push("root", "alice/Tools/app", true)
	wantCode(t, err, apperr.Invalid)
	if _, err := f.push("root", "alice/tools/app", true); err != nil {
		t.Fatalf("admin push: %v", err)
	}
	if _, err := f.b.ContainerForPull(ctx, f.ms, f.users["bob"], "alice/tools/app"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("bob pulls a private container: %v", err)
	}
	if _, err := f.b.ContainerForPull(ctx, f.ms, f.users["mgr"], "alice/tools/app"); err != nil {
		t.Fatalf("owner pull: %v", err)
	}
}

// AddImage takes the architecture from the SIF header, keeps its labels,
// tags the image, makes its OCI view, and follows the frozen rule; a
// failure leaves nothing.
func TestAddImage(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, access.Policy{UserCollections: true})
	alice := f.users["alice"]
	d1, n1 := f.sifBlob(t, "arm64", 1)
	d2, n2 := f.sifBlob(t, "arm64", 2)
	add := func(d digest.Digest, n int64, arch string, tags ...string) (meta.Image, error) {
		sifMeta, err := f.b.Inspect(ctx, d)
		if err != nil {
			return meta.Image{}, err
		}
		var img meta.Image
		err = f.ms.InTx(ctx, func(tx meta.Store) error {
			ref, err := f.b.ContainerForPush(ctx, tx, alice, "alice/oci/app", true)
			if err != nil {
				return err
			}
			img, err = f.b.AddImage(ctx, tx, alice, ref, d, n, sifMeta, arch, tags, "")
			return err
		})
		return img, err
	}
	img, err := add(d1, n1, "", "latest", "v1")
	if err != nil || img.Arch != "arm64" || !img.Uploaded || img.Size != n1 {
		t.Fatalf("add: %+v %v", img, err)
	}
	labels, _ := f.ms.GetLabels(ctx, img.ID)
	if labels["maintainer"] != "alice" || labels["n"] != "1" {
		t.Fatalf("labels %v", labels)
	}
	// The OCI view: a SIF artifact manifest under both tags.
	repo, err := f.ms.GetRepository(ctx, "alice/oci/app")
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"latest", "v1"} {
		tg, err := f.ms.GetTag(ctx, repo.ID, tag)
		if err != nil {
			t.Fatalf("OCI tag %s: %v", tag, err)
		}
		m, _ := f.ms.GetManifest(ctx, repo.ID, tg.Digest)
		parsed, err := oci.ParseManifest(m.Content)
		if err != nil || !parsed.IsSIF() || parsed.Layers[0].Digest != d1 {
			t.Fatalf("OCI manifest %s: %v", m.Content, err)
		}
	}
	ref, _ := f.b.ContainerForPull(ctx, f.ms, alice, "alice/oci/app")
	ref.Container.Frozen = true
	if err := f.ms.UpdateContainer(ctx, &ref.Container); err != nil {
		t.Fatal(err)
	}
	_, err = add(d2, n2, "", "latest")
	if !apperr.Is(err, apperr.Denied) || !strings.Contains(apperr.MessageOf(err), "permission denied") {
		t.Fatalf("frozen replace: %v", err)
	}
	if _, err := add(d2, n2, "", "v2"); err != nil {
		t.Fatalf("frozen new tag: %v", err)
	}
	// A failure part-way leaves nothing.
	d3, n3 := f.sifBlob(t, "amd64", 3)
	if _, err := add(d3, n3, "amd64", "v3", "bad tag"); err == nil {
		t.Fatal("bad tag accepted")
	}
	if _, err := f.ms.GetImageByDigest(ctx, ref.Container.ID, d3.String()); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("image kept after a failure: %v", err)
	}
	// The header says arm64: an index entry claiming amd64 is refused.
	if _, err := add(d1, n1, "amd64", "x"); !apperr.Is(err, apperr.Invalid) || apperr.SubjectOf(err) != apperr.Manifest {
		t.Fatalf("contradicted arch: %v", err)
	}
}
