package credstore

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fixtures = "../../testdata/singularity-4.3.3"

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return data
}

func TestLoadDockerConfigMissingOrEmpty(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.json")
	if err := os.WriteFile(empty, []byte("  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{"missing": filepath.Join(dir, "nope.json"), "empty": empty} {
		t.Run(name, func(t *testing.T) {
			c, err := LoadDockerConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := c.Marshal()
			if string(got) != "{\n\t\"auths\": {}\n}" {
				t.Errorf("got %q", got)
			}
		})
	}
}

func TestLoadDockerConfigRejectsGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(path, []byte("{not json"), 0o600)
	if _, err := LoadDockerConfig(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want a parse error naming the file", err)
	}
}

// The bytes Singularity 4.3.3 wrote are what docker/cli's MarshalIndent
// gives: tab indent, "auths" first. (The after-login capture ends with a
// newline docker/cli's code never writes; see the report.)
func TestMarshalMatchesSingularityFixtures(t *testing.T) {
	c, _ := LoadDockerConfig(filepath.Join(t.TempDir(), "c.json"))
	c.SetEntry("127.0.0.1:15077", AuthConfig{Username: "harness", Password: "harnesspass"})
	got, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSuffix(string(readFixture(t, "docker-config.after-login.json")), "\n"); string(got) != want {
		t.Errorf("after login:\n%s\nwant:\n%s", got, want)
	}
	c.Remove("127.0.0.1:15077")
	got, _ = c.Marshal()
	if want := readFixture(t, "docker-config.after-logout.json"); string(got) != string(want) {
		t.Errorf("after logout:\n%q\nwant:\n%q", got, want)
	}
}

func TestUnknownKeysSurviveARewrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	in := `{"psFormat":"table {{.ID}}","x-silo-test":{"nested":[1,2,3]},"HttpHeaders":{"X-A":"b"},
		"auths":{"reg.example:5000":{"auth":"b2xkOm9sZA==","email":"me@example.org","x-tool":true},
		"other.example":{"auth":"dTpw"}}}`
	os.WriteFile(path, []byte(in), 0o600)
	c, err := LoadDockerConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	c.SetEntry("reg.example:5000", AuthConfig{Username: "new", Password: "secret"})
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	json.Unmarshal([]byte(`{"psFormat":"table {{.ID}}","x-silo-test":{"nested":[1,2,3]},"HttpHeaders":{"X-A":"b"},
		"auths":{"reg.example:5000":{"auth":"bmV3OnNlY3JldA==","email":"me@example.org","x-tool":true},
		"other.example":{"auth":"dTpw"}}}`), &want)
	if a, b := mustJSON(got), mustJSON(want); a != b {
		t.Errorf("got  %s\nwant %s", a, b)
	}
	if !strings.HasPrefix(string(data), "{\n\t\"auths\": {\n\t\t\"") {
		t.Errorf("not tab-indented with auths first:\n%s", data)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestEntry(t *testing.T) {
	c := &DockerConfig{Path: "x", top: map[string]json.RawMessage{}, auths: map[string]map[string]json.RawMessage{
		"https://legacy.example:5000/v1/": {"auth": json.RawMessage(`"bGVnOmFjeQ=="`)},
		"host.example/ns":                 {"auth": json.RawMessage(`"bnM6cw=="`)},
		"plain.example":                   {"username": json.RawMessage(`"u"`), "password": json.RawMessage(`"p"`)},
		"tok.example":                     {"identitytoken": json.RawMessage(`"idt"`)},
		"bad.example":                     {"auth": json.RawMessage(`"bm9jb2xvbg=="`)},
	}}
	tests := []struct {
		key   string
		want  AuthConfig
		found bool
	}{
		{"legacy.example:5000", AuthConfig{Username: "leg", Password: "acy"}, true},
		{"host.example/ns", AuthConfig{Username: "ns", Password: "s"}, true},
		{"host.example", AuthConfig{}, false}, // a repository login is not the host's
		{"host.example/other", AuthConfig{}, false},
		{"plain.example", AuthConfig{Username: "u", Password: "p"}, true},
		{"tok.example", AuthConfig{IdentityToken: "idt"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, found, err := c.Entry(tt.key)
			if err != nil || found != tt.found || got != tt.want {
				t.Errorf("Entry = %+v, %v, %v; want %+v, %v", got, found, err, tt.want, tt.found)
			}
		})
	}
	if _, _, err := c.Entry("bad.example"); err == nil {
		t.Error("an auth without a colon must be an error")
	}
}

func TestSaveModesAndAtomicity(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "new", "dir", "docker-config.json")
	c, _ := LoadDockerConfig(path)
	c.SetEntry("h", AuthConfig{Username: "u", Password: "p"})
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	assertMode(t, filepath.Join(root, "new", "dir"), 0o700|os.ModeDir)
	assertMode(t, path, 0o600)

	// A world-readable file is tightened, and nothing is left beside it.
	os.Chmod(path, 0o644)
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	assertMode(t, path, 0o600)
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the file", len(entries))
	}

	// A symlinked config keeps its link; the target is replaced.
	link := filepath.Join(root, "link.json")
	os.Symlink(path, link)
	c.Path = link
	c.SetEntry("h2", AuthConfig{Username: "u2", Password: "p2"})
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("link replaced by a file: %v", err)
	}
	if data, _ := os.ReadFile(path); !strings.Contains(string(data), `"h2"`) {
		t.Errorf("target not updated: %s", data)
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode() & (os.ModePerm | os.ModeDir); got != want {
		t.Errorf("%s: mode %v, want %v", path, got, want)
	}
}

func TestPlaceholderKeepsNoSecret(t *testing.T) {
	c, _ := LoadDockerConfig(filepath.Join(t.TempDir(), "c.json"))
	c.SetEntry("h", AuthConfig{Username: "u", Password: "p", IdentityToken: "i"})
	c.SetPlaceholder("h")
	got, _ := c.Marshal()
	if want := "{\n\t\"auths\": {\n\t\t\"h\": {}\n\t}\n}"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !c.Has("h") {
		t.Error("placeholder must count as a login")
	}
}
