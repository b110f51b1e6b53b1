package cli_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/cli"
	"github.com/silo-hpc/silo/internal/config"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/server"
)

// TestAdminLibrary runs `silo admin container freeze|unfreeze` and
// `silo admin collection private|public|rotate-urls` against a data
// directory.
func TestAdminLibrary(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	svc, err := server.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	u, err := svc.Auth.CreateUser(ctx, "alice", meta.RoleUser, "")
	if err != nil {
		t.Fatal(err)
	}
	alice := auth.Principal{UserID: u.ID, Name: u.Name, Role: u.Role}
	ent, err := svc.Library.GetEntity(ctx, alice, "alice")
	if err != nil {
		t.Fatal(err)
	}
	col, err := svc.Library.CreateCollection(ctx, alice, ent.Entity.ID, "tools", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := svc.Library.CreateContainer(ctx, alice, col.Collection.ID, "app", "")
	svc.Close()
	if err != nil {
		t.Fatal(err)
	}
	run := func(want int, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append([]string{"admin"}, append(args, "--data-dir", cfg.DataDir)...)
		if code := cli.Execute(args, strings.NewReader(""), &out, &errOut); code != want {
			t.Fatalf("silo %v: exit %d, want %d: %s", args, code, want, errOut.String())
		}
		return errOut.String()
	}
	// stores opens the data directory's metadata as another process
	// would; the caller closes it.
	stores := func() meta.Store {
		t.Helper()
		ms, _, err := server.OpenStores(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	check := func(frozen, private bool) {
		t.Helper()
		ms := stores()
		defer ms.Close()
		k, _ := ms.GetContainer(ctx, ref.Container.ID)
		c, _ := ms.GetCollection(ctx, ref.Collection.ID)
		if k.Frozen != frozen || c.Private != private {
			t.Fatalf("frozen %v private %v, want %v %v", k.Frozen, c.Private, frozen, private)
		}
	}
	if out := run(0, "container", "freeze", "alice/tools/app"); !strings.Contains(out, "INFO:    Container alice/tools/app frozen.") {
		t.Fatalf("output %q", out)
	}
	run(0, "collection", "private", "alice/tools")
	check(true, true)
	run(0, "container", "unfreeze", "alice/tools/app")
	run(0, "collection", "public", "alice/tools")
	check(false, false)
	if out := run(cli.ExitFatal, "container", "freeze", "alice/tools/nope"); !strings.Contains(out, "FATAL:   container alice/tools/nope not found") {
		t.Fatalf("output %q", out)
	}
	run(cli.ExitFatal, "collection", "private", "alice")

	// rotate-urls gives the collection a new download salt each time.
	salt := func() string {
		t.Helper()
		ms := stores()
		defer ms.Close()
		s, err := ms.GetDownloadSalt(ctx, ref.Collection.ID)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := salt()
	if out := run(0, "collection", "rotate-urls", "alice/tools"); !strings.Contains(out, "INFO:    Collection alice/tools: image URLs handed out before no longer work.") {
		t.Fatalf("output %q", out)
	}
	after := salt()
	if after == before {
		t.Fatalf("salt unchanged: %q", after)
	}
	run(0, "collection", "rotate-urls", "alice/tools")
	if salt() == after {
		t.Fatal("a second rotation kept the salt")
	}
	if out := run(cli.ExitFatal, "collection", "rotate-urls", "alice/nope"); !strings.Contains(out, "FATAL:") {
		t.Fatalf("output %q", out)
	}
	run(cli.ExitFatal, "collection", "rotate-urls", "alice")
}
