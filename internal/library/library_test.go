package library_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/config"
	"github.com/silo-hpc/silo/internal/library"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/server"
)

func newService(t *testing.T) (*server.Services, map[string]auth.Principal) {
	t.Helper()
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	svc, err := server.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	users := map[string]auth.Principal{}
	for name, role := range map[string]meta.Role{"alice": meta.RoleUser, "bob": meta.RoleUser} {
		u, err := svc.Auth.CreateUser(ctx, name, role, "")
		if err != nil {
			t.Fatal(err)
		}
		users[name] = auth.Principal{UserID: u.ID, Name: name, Role: role}
	}
	return svc, users
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A file that is not a SIF is refused, and no image is recorded; a
// completion without data, or after the session ended, is refused.
func TestUploadNonSIF(t *testing.T) {
	ctx := context.Background()
	svc, users := newService(t)
	alice := users["alice"]
	ent, err := svc.Library.GetEntity(ctx, alice, "alice")
	must(t, err)
	col, err := svc.Library.CreateCollection(ctx, alice, ent.Entity.ID, "up", "", nil)
	must(t, err)
	con, err := svc.Library.CreateContainer(ctx, alice, col.Collection.ID, "app", "")
	must(t, err)
	data := []byte("not a SIF, still a file")
	sum := sha256.Sum256(data)
	info, err := svc.Library.CreateImage(ctx, alice, con.Container.ID, "sha256."+hex.EncodeToString(sum[:]), "")
	must(t, err)
	if _, err := svc.Library.CompleteUpload(ctx, alice, info.Image.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("complete without data: %v", err)
	}
	id, err := svc.Library.StartUpload(ctx, alice, info.Image.ID, int64(len(data)), "")
	must(t, err)
	if err := svc.Library.WriteUpload(ctx, id, bytes.NewReader(data), int64(len(data))+1); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("wrong length: %v", err)
	}
	if err := svc.Library.WriteUpload(ctx, id, bytes.NewReader(data), -1); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("a refused upload's session lives on: %v", err)
	}
	id, err = svc.Library.StartUpload(ctx, alice, info.Image.ID, int64(len(data)), "")
	must(t, err)
	must(t, svc.Library.WriteUpload(ctx, id, bytes.NewReader(data), -1))
	_, err = svc.Library.CompleteUpload(ctx, alice, info.Image.ID)
	if !apperr.Is(err, apperr.Invalid) || !strings.Contains(apperr.MessageOf(err), "not a SIF") {
		t.Fatalf("complete with a file that is not a SIF: %v", err)
	}
	img, _ := svc.Meta.GetImage(ctx, info.Image.ID)
	if img.Uploaded {
		t.Fatalf("image %+v", img)
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
