package library_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/sylabs/sif/v2/pkg/sif"

	"github.com/silo-hpc/silo/internal/access"
	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/fsblob"
	"github.com/silo-hpc/silo/internal/library"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/sqlmeta"
)

// mirror records the calls the service makes.
type mirror struct {
	mu    sync.Mutex
	calls []string
	fail  error
}

func (m *mirror) add(s string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, s)
	return m.fail
}

func (m *mirror) ImageUploaded(_ context.Context, _ meta.Store, ref library.Ref, img meta.Image) error {
	return m.add("uploaded " + ref.Path() + " " + img.Arch + " " + img.ManifestDigest)
}
func (m *mirror) TagsChanged(_ context.Context, _ meta.Store, ref library.Ref, tag string) error {
	return m.add("tag " + ref.Path() + ":" + tag)
}
func (m *mirror) ImageDeleted(_ context.Context, _ meta.Store, ref library.Ref, img meta.Image) error {
	return m.add("deleted " + ref.Path())
}

type fixture struct {
	svc    *library.Service
	ms     meta.Store
	bs     blob.Store
	mirror *mirror
	clock  time.Time
	users  map[string]auth.Principal
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
	f := &fixture{ms: ms, bs: bs, mirror: &mirror{}, clock: time.Now().UTC(), users: map[string]auth.Principal{}}
	f.svc = library.New(ms, bs, access.Checker{Policy: policy}, library.Options{Now: func() time.Time { return f.clock }})
	f.svc.Mirror = f.mirror
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
	return f.commit(t, buf.Bytes())
}

func (f *fixture) commit(t *testing.T, b []byte) (digest.Digest, int64) {
	t.Helper()
	ctx := context.Background()
	w, err := f.bs.NewUpload(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	d := digest.FromBytes(b)
	if _, err := w.Commit(ctx, d, int64(len(b))); err != nil {
		t.Fatal(err)
	}
	return d, int64(len(b))
}

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if !apperr.Is(err, code) {
		t.Fatalf("got %v (code %s), want %s", err, apperr.CodeOf(err), code)
	}
}

// TestContainerForPush covers the push rules the OCI side relies on.
func TestContainerForPush(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, access.Policy{UserCollections: false, DefaultPrivate: true})
	push := func(who, path string) (library.Ref, error) {
		var ref library.Ref
		err := f.ms.InTx(ctx, func(tx meta.Store) error {
			var err error
			ref, err = f.svc.ContainerForPush(ctx, tx, f.users[who], path)
			return err
		})
		return ref, err
	}
	// user_collections: false keeps users from creating collections, even
	// in their own entity; managers may, anywhere.
	_, err := push("alice", "alice/tools/app")
	wantCode(t, err, apperr.Denied)
	// The entity named after alice is hers, whoever creates it.
	ref, err := push("mgr", "alice/tools/app")
	if err != nil || !ref.Collection.Private || ref.Collection.OwnerID != f.users["mgr"].UserID || ref.Entity.OwnerID != f.users["alice"].UserID {
		t.Fatalf("manager push: %+v %v", ref, err)
	}
	_, err = push("bob", "bob2/x/y") // another user's name space
	wantCode(t, err, apperr.Denied)
	_, err = push("alice", "alice/tools/app") // private, not hers: invisible
	wantCode(t, err, apperr.NotFound)
	_, err = push("", "alice/tools/app")
	wantCode(t, err, apperr.Unauthenticated)
	_, err = push("root", "alice/Tools/app")
	wantCode(t, err, apperr.Invalid)
	if _, err := push("root", "alice/tools/app"); err != nil {
		t.Fatalf("admin push: %v", err)
	}
	if _, err := f.svc.ContainerForPull(ctx, f.users["bob"], "alice/tools/app"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("bob pulls a private container: %v", err)
	}
	if _, err := f.svc.ContainerForPull(ctx, f.users["mgr"], "alice/tools/app"); err != nil {
		t.Fatalf("owner pull: %v", err)
	}
}

// TestAddImage covers the OCI registration hook: arch from the SIF
// header, labels, tags, the frozen rule and the mirror calls.
func TestAddImage(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, access.Policy{UserCollections: true})
	alice := f.users["alice"]
	d1, n1 := f.sifBlob(t, "arm64", 1)
	d2, n2 := f.sifBlob(t, "arm64", 2)
	add := func(d digest.Digest, n int64, arch string, tags ...string) (meta.Image, error) {
		var img meta.Image
		err := f.ms.InTx(ctx, func(tx meta.Store) error {
			ref, err := f.svc.ContainerForPush(ctx, tx, alice, "alice/oci/app")
			if err != nil {
				return err
			}
			img, err = f.svc.AddImage(ctx, tx, alice, ref, d, n, arch, tags, "sha256:"+strings.Repeat("m", 64))
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
	want := []string{"uploaded alice/oci/app arm64 sha256:" + strings.Repeat("m", 64), "tag alice/oci/app:latest", "tag alice/oci/app:v1"}
	if fmt.Sprint(f.mirror.calls) != fmt.Sprint(want) {
		t.Fatalf("mirror calls %v, want %v", f.mirror.calls, want)
	}
	if _, err := add(d1, n1+1, ""); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("wrong size: %v", err)
	}
	ref, _ := f.svc.ContainerForPull(ctx, alice, "alice/oci/app")
	frozen := true
	if _, err := f.svc.UpdateContainer(ctx, alice, ref.Container.ID, library.ContainerUpdate{Frozen: &frozen}); err != nil {
		t.Fatal(err)
	}
	_, err = add(d2, n2, "", "latest")
	if !apperr.Is(err, apperr.Denied) || !strings.Contains(apperr.MessageOf(err), "permission denied") {
		t.Fatalf("frozen replace: %v", err)
	}
	if _, err := add(d2, n2, "", "v2"); err != nil {
		t.Fatalf("frozen new tag: %v", err)
	}
	// A failing mirror rolls the change back.
	f.mirror.fail = fmt.Errorf("mirror down")
	d3, n3 := f.sifBlob(t, "amd64", 3)
	if _, err := add(d3, n3, "amd64", "v3"); err == nil {
		t.Fatal("mirror error ignored")
	}
	con, _ := f.svc.ContainerForPull(ctx, alice, "alice/oci/app")
	if _, err := f.ms.GetImageByDigest(ctx, con.Container.ID, d3.String()); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("image kept after mirror failure: %v", err)
	}
}

// TestUploadExpiry: an expired capability is refused and its bytes are
// dropped; new sessions purge expired ones.
func TestUploadExpiry(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, access.Policy{UserCollections: true})
	alice := f.users["alice"]
	var ref library.Ref
	must(t, f.ms.InTx(ctx, func(tx meta.Store) error {
		var err error
		ref, err = f.svc.ContainerForPush(ctx, tx, alice, "alice/up/app")
		return err
	}))
	data := []byte("not a SIF, still a file")
	sum := sha256.Sum256(data)
	info, err := f.svc.CreateImage(ctx, alice, ref.Container.ID, "sha256."+hex.EncodeToString(sum[:]), "")
	must(t, err)
	id, err := f.svc.StartUpload(ctx, alice, info.Image.ID, int64(len(data)), "")
	must(t, err)
	must(t, f.svc.WriteUpload(ctx, id, bytes.NewReader(data), int64(len(data))))
	f.clock = f.clock.Add(25 * time.Hour)
	_, err = f.svc.CompleteUpload(ctx, alice, info.Image.ID)
	wantCode(t, err, apperr.NotFound)
	mp, err := f.svc.StartMultipart(ctx, alice, info.Image.ID, 10)
	must(t, err)
	f.clock = f.clock.Add(25 * time.Hour)
	if n, err := f.svc.PurgeExpiredUploads(ctx); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	_, err = f.svc.WritePart(ctx, mp.UploadID, 1, bytes.NewReader(data[:10]), 10)
	wantCode(t, err, apperr.NotFound)
	// A file that is not a SIF uploads fine, with an unknown arch.
	id, err = f.svc.StartUpload(ctx, alice, info.Image.ID, int64(len(data)), "")
	must(t, err)
	must(t, f.svc.WriteUpload(ctx, id, bytes.NewReader(data), -1))
	c, err := f.svc.CompleteUpload(ctx, alice, info.Image.ID)
	if err != nil || c.Ref.Path() != "alice/up/app" || c.QuotaUsage != int64(len(data)) {
		t.Fatalf("complete: %+v %v", c, err)
	}
	img, _ := f.ms.GetImage(ctx, info.Image.ID)
	if !img.Uploaded || img.Arch != "" {
		t.Fatalf("image %+v", img)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestParseImageRef(t *testing.T) {
	for in, want := range map[string]string{
		"alpine":                 "default/default/alpine:latest",
		"tools/alpine:3":         "default/tools/alpine:3",
		"e/c/n:sha256." + hex64:  "e/c/n:sha256." + hex64,
		"/c/n:v1":                "default/c/n:v1",
		"e//n":                   "e/default/n:latest",
		"E/c/n":                  "error",
		"a/b/c/d":                "error",
		"e/c/n:sha256.short":     "error",
		"e/c/n:bad tag":          "error",
		"e/c/n:" + hashPrefixTag: "error",
	} {
		r, err := library.ParseImageRef(in)
		got := r.Entity + "/" + r.Collection + "/" + r.Container + ":" + r.Tag
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("%q: got %s, want %s", in, got, want)
		}
	}
}

var hex64 = strings.Repeat("ab", 32)

const hashPrefixTag = "sha256.xyz"
