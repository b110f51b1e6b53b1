// Package testenv lets tests depend on real external programs (skopeo,
// initdb, chromium) without pretending: locally a missing program skips the
// test, but CI sets SILO_REQUIRE_TOOLS=1 and then a missing program fails it.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// LookPath returns the path of program or ends the test: Fatal when tools
// are required (CI), Skip otherwise.
func LookPath(t testing.TB, program string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err == nil {
		return p
	}
	if os.Getenv("SILO_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s is required (SILO_REQUIRE_TOOLS=1) but not installed: %v", program, err)
	}
	t.Skipf("%s not installed: %v", program, err)
	return ""
}
