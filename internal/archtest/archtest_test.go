// Package archtest checks the package layering docs/architecture.md
// describes against what `go list` reports.
package archtest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/silo-hpc/silo/internal/"

// imports returns each internal package's internal imports (non-test
// files), by `go list`.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}:{{.Dir}}:{{join .GoFiles " "}}:{{join .Imports " "}}`, "github.com/silo-hpc/silo/internal/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	got := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.SplitN(line, ":", 4)
		pkg, deps := parts[0], parts[3]
		// Reading the sources ties `go test`'s cached result to them: the
		// cache tracks files a test opens, not what a child process reads.
		for _, name := range strings.Fields(parts[2]) {
			if _, err := os.ReadFile(filepath.Join(parts[1], name)); err != nil {
				t.Fatal(err)
			}
		}
		pkg = strings.TrimPrefix(pkg, module)
		got[pkg] = []string{}
		for _, d := range strings.Fields(deps) {
			if rest, ok := strings.CutPrefix(d, module); ok {
				got[pkg] = append(got[pkg], rest)
			}
		}
		slices.Sort(got[pkg])
	}
	return got
}

// documented reads the imports table of docs/architecture.md.
func documented(t *testing.T) map[string][]string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	f, err := os.Open(filepath.Join(filepath.Dir(file), "..", "..", "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc := map[string][]string{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, "imports:begin"):
			in = true
		case strings.Contains(line, "imports:end"):
			in = false
		case in && strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| package") && !strings.HasPrefix(line, "| ---"):
			cells := strings.Split(line, "|")
			deps := strings.Fields(cells[2])
			slices.Sort(deps)
			doc[strings.TrimSpace(cells[1])] = deps
		}
	}
	if len(doc) == 0 {
		t.Fatal("docs/architecture.md has no imports table")
	}
	return doc
}

// The imports table in docs/architecture.md is what the code does.
func TestImportsMatchTheDocument(t *testing.T) {
	got, doc := imports(t), documented(t)
	for pkg, deps := range got {
		want, ok := doc[pkg]
		if !ok {
			t.Errorf("package %s is missing from the imports table of docs/architecture.md", pkg)
			continue
		}
		if !slices.Equal(deps, want) {
			t.Errorf("%s imports %v; docs/architecture.md says %v", pkg, deps, want)
		}
	}
	for pkg := range doc {
		if _, ok := got[pkg]; !ok {
			t.Errorf("docs/architecture.md lists %s, which does not exist", pkg)
		}
	}
}

// Services never reach up into transports or HTTP plumbing, and the two
// protocol services talk only through the bridge.
func TestServiceLayering(t *testing.T) {
	got := imports(t)
	services := []string{"access", "auth", "bearer", "bridge", "gc", "library", "pgpkeys", "quota", "registry", "settings", "sregistry", "upload"}
	for _, svc := range services {
		for _, dep := range got[svc] {
			switch dep {
			case "httpx", "ociapi", "libraryapi", "sregistryapi", "keyserver", "accountapi", "webui", "quotaapi", "server", "cli":
				t.Errorf("service %s imports %s", svc, dep)
			}
		}
	}
	if slices.Contains(got["registry"], "library") || slices.Contains(got["library"], "registry") {
		t.Error("registry and library import each other; they share the bridge")
	}
	for _, transport := range []string{"ociapi", "libraryapi", "sregistryapi", "keyserver", "accountapi", "webui", "quotaapi"} {
		for _, dep := range got[transport] {
			if dep == "sqlmeta" || dep == "fsblob" || dep == "s3blob" || dep == "bridge" || dep == "upload" {
				t.Errorf("transport %s imports %s", transport, dep)
			}
		}
	}
}
