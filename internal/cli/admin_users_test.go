package cli_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/cli"
)

// TestAdminUsers runs `silo admin user add|list|disable`: a FATAL line
// for a name taken or missing says so in the service's words, not the
// database's (no constraint text, no driver error).
func TestAdminUsers(t *testing.T) {
	dir := t.TempDir()
	run := func(want int, args ...string) (string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append([]string{"admin"}, append(args, "--data-dir", dir)...)
		if code := cli.Execute(args, strings.NewReader(""), &out, &errOut); code != want {
			t.Fatalf("silo %v: exit %d, want %d: %s", args, code, want, errOut.String())
		}
		return out.String(), errOut.String()
	}
	if _, e := run(0, "user", "add", "alice"); !strings.Contains(e, `INFO:    User "alice" created (role user).`) {
		t.Fatalf("add: %q", e)
	}
	if _, e := run(cli.ExitFatal, "user", "add", "alice"); e != "FATAL:   user alice: already exists\n" {
		t.Fatalf("adding twice: %q", e)
	}
	if _, e := run(cli.ExitFatal, "user", "disable", "nobody"); e != "FATAL:   user nobody: not found\n" {
		t.Fatalf("disabling a missing user: %q", e)
	}
	if o, _ := run(0, "user", "list"); !strings.Contains(o, "alice") || !strings.Contains(o, "active") {
		t.Fatalf("list: %q", o)
	}
	run(0, "user", "disable", "alice")
	if o, _ := run(0, "user", "list"); !strings.Contains(o, "disabled") {
		t.Fatalf("list after disable: %q", o)
	}
}
