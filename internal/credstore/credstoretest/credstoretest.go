// Package credstoretest installs a real credential helper for tests: the
// docker-credential-silotest program in credstore/testdata, built with the
// go tool, first on PATH.
package credstoretest

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// initialEnv is the environment before any test moved HOME: the go tool
// finds its build cache through HOME, and a fresh cache would rebuild the
// standard library for every test.
var initialEnv = os.Environ()

// HelperName is the suffix to put in credsStore/credHelpers.
const HelperName = "silotest"

// InstallHelper builds docker-credential-silotest into a temporary
// directory, puts that directory first on PATH and points the helper at a
// fresh credentials file, whose path it returns. It uses t.Setenv, so the
// calling test cannot be parallel.
func InstallHelper(t *testing.T) string {
	t.Helper()
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate credstoretest's source")
	}
	src := filepath.Join(filepath.Dir(self), "..", "testdata", "docker-credential-silotest")
	bin := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(bin, "docker-credential-"+HelperName), ".")
	cmd.Dir = src
	cmd.Env = initialEnv
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the test credential helper: %v\n%s", err, out)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	creds := filepath.Join(t.TempDir(), "helper-creds.json")
	t.Setenv("SILOTEST_CREDS_FILE", creds)
	return creds
}

// Creds is what the helper holds for one server.
type Creds struct {
	Username string
	Secret   string
}

// Stored reads the helper's credentials file (empty if it was never written).
func Stored(t *testing.T, credsFile string) map[string]Creds {
	t.Helper()
	m := map[string]Creds{}
	data, err := os.ReadFile(credsFile)
	if errors.Is(err, fs.ErrNotExist) {
		return m
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Actions lists the helper actions run so far ("store", "get", ...).
func Actions(t *testing.T, credsFile string) []string {
	t.Helper()
	data, err := os.ReadFile(credsFile + ".log")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(data))
}
