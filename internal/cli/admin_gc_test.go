package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/cli"
	"github.com/silo-hpc/silo/internal/config"
	"github.com/silo-hpc/silo/internal/server"
)

// TestAdminGC runs `silo admin gc` on a data directory holding a blob an
// upload stored and nothing references.
func TestAdminGC(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	svc, err := server.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	loose := []byte("refused upload")
	d := digest.FromBytes(loose)
	if _, err := svc.Uploads.Put(ctx, bytes.NewReader(loose), -1, d, -1); err != nil {
		t.Fatal(err)
	}
	svc.Close()
	run := func(args ...string) (string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append([]string{"admin", "gc"}, append(args, "--data-dir", cfg.DataDir)...)
		if code := cli.Execute(args, strings.NewReader(""), &out, &errOut); code != 0 {
			t.Fatalf("silo %v: exit %d: %s", args, code, errOut.String())
		}
		return out.String(), errOut.String()
	}
	if _, out := run(); !strings.Contains(out, "INFO:    Removed 0 unreferenced blob(s), 0 B.") {
		t.Fatalf("within the grace period: %q", out)
	}
	if _, out := run("--dry-run", "--grace", "0s"); !strings.Contains(out, "INFO:    Would remove 1 unreferenced blob(s), 14 B.") {
		t.Fatalf("dry run: %q", out)
	}
	js, _ := run("--grace", "0s", "--json")
	var r struct{ Blobs, Bytes int }
	if err := json.Unmarshal([]byte(js), &r); err != nil || r.Blobs != 1 || r.Bytes != len(loose) {
		t.Fatalf("report %s: %+v %v", js, r, err)
	}
	ms, bs, err := server.OpenStores(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	if _, err := bs.Stat(ctx, d); err == nil {
		t.Fatal("the blob is still stored")
	}
}
