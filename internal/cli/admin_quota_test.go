package cli_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/cli"
	"github.com/silo-hpc/silo/internal/config"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/server"
)

// TestAdminQuota runs `silo admin quota set|show|list`.
func TestAdminQuota(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	svc, err := server.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Auth.CreateUser(ctx, "alice", meta.RoleUser, ""); err != nil {
		t.Fatal(err)
	}
	svc.Close()
	run := func(want int, args ...string) (string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append([]string{"admin", "quota"}, append(args, "--data-dir", cfg.DataDir)...)
		if code := cli.Execute(args, strings.NewReader(""), &out, &errOut); code != want {
			t.Fatalf("silo %v: exit %d, want %d: %s", args, code, want, errOut.String())
		}
		return out.String(), errOut.String()
	}
	if _, msg := run(0, "set", "user", "alice", "50GiB"); !strings.Contains(msg, "INFO:    Quota of user alice: 50.0 GiB, 0 B used.") {
		t.Fatalf("set: %q", msg)
	}
	if out, _ := run(0, "show", "user", "alice"); !strings.Contains(out, "user  alice  50.0 GiB  0 B") {
		t.Fatalf("show: %q", out)
	}
	if out, _ := run(0, "list"); !strings.Contains(out, "KIND  NAME   LIMIT     USAGE") || !strings.Contains(out, "alice") {
		t.Fatalf("list: %q", out)
	}
	run(0, "set", "user", "alice", "0")
	if out, _ := run(0, "list"); strings.Contains(out, "alice") {
		t.Fatalf("removed quota still listed: %q", out)
	}
	if _, msg := run(cli.ExitFatal, "set", "user", "alice", "lots"); !strings.Contains(msg, "FATAL:") {
		t.Fatalf("bad size: %q", msg)
	}
	if _, msg := run(cli.ExitFatal, "show", "collection", "alice/nothing"); !strings.Contains(msg, "collection alice/nothing not found") {
		t.Fatalf("missing collection: %q", msg)
	}
}
