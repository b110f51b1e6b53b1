package credstore_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/credstore"
)

func TestRemoteConfigRoundTripsSingularityFixture(t *testing.T) {
	data, err := os.ReadFile("../../testdata/singularity-4.3.3/remote.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "remote.yaml")
	writeFile(t, path, string(data))
	c, err := credstore.LoadRemoteConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Active != "DinosaurCloud" || c.Remotes["DinosaurCloud"].URI != "//127.0.0.1:18765" || !c.Remotes["SylabsCloud"].System {
		t.Fatalf("decoded %+v", c)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != string(data) {
		t.Errorf("rewrite changed the file:\n%s\nwant:\n%s", got, data)
	}
	assertFileMode(t, path, 0o600)
}

func assertFileMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != want {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
	}
}

func TestRemoteConfigKeepsUnknownKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "remote.yaml")
	writeFile(t, path, "Active: A\nFuture: 1\nRemotes:\n    A:\n        URI: a.example\n        System: false\n        Exclusive: false\n        Keyservers:\n            - URI: https://k\n")
	c, err := credstore.LoadRemoteConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	c.AddCredential("docker://r:5000", false)
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, path)
	for _, want := range []string{"Future: 1\n", "        Keyservers:\n            - URI: https://k\n", "Credentials:\n    - URI: docker://r:5000\n      Insecure: false\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

func TestRemoteConfigEdits(t *testing.T) {
	c, err := credstore.LoadRemoteConfig(filepath.Join(t.TempDir(), "missing.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Remote(""); err == nil || err.Error() != "no default remote" {
		t.Errorf("Remote(\"\") = %v", err)
	}
	must(t, c.Add("B", &credstore.Remote{URI: "b"}))
	must(t, c.Add("A", &credstore.Remote{URI: "a"}))
	c.Remotes["Sys"] = &credstore.Remote{URI: "s", System: true}
	if err := c.Add("A", &credstore.Remote{}); err == nil || err.Error() != "A is already a remote" {
		t.Errorf("duplicate Add: %v", err)
	}
	if got := strings.Join(c.Names(), ","); got != "Sys,A,B" {
		t.Errorf("Names = %s", got)
	}
	must(t, c.Use("A"))
	if err := c.Use("Z"); err == nil || err.Error() != "Z is not a remote" {
		t.Errorf("Use(Z) = %v", err)
	}
	if err := c.Remove("Sys"); err == nil || err.Error() != "Sys is global and can't be removed" {
		t.Errorf("Remove(Sys) = %v", err)
	}
	must(t, c.Remove("A"))
	if c.Active != "" {
		t.Errorf("Active = %q after removing it", c.Active)
	}
	c.Remotes["Sys"].Exclusive = true
	if err := c.Use("B"); err == nil || !strings.Contains(err.Error(), "set exclusive by the system administrator") {
		t.Errorf("Use past an exclusive remote: %v", err)
	}

	c.AddCredential("docker://r:5000", false)
	c.AddCredential("oras://r:5000", false)
	c.AddCredential("docker://r:5000/ignored/path", true) // same scheme+host: replaces
	if len(c.Credentials) != 2 || c.Credentials[1].URI != "docker://r:5000/ignored/path" || !c.Credentials[1].Insecure {
		t.Errorf("Credentials = %+v", c.Credentials)
	}
	if !c.RemoveCredentials("docker://r:5000") || c.RemoveCredentials("docker://r:5000") || len(c.Credentials) != 1 {
		t.Errorf("RemoveCredentials left %+v", c.Credentials)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestRemoteURI(t *testing.T) {
	tests := []struct {
		in       string
		insecure bool
		want     string
		wantErr  string
	}{
		{in: "cloud.dinosaur.io", want: "cloud.dinosaur.io"},
		{in: "https://cloud.dinosaur.io/", want: "cloud.dinosaur.io"},
		{in: "https://h.example/prefix", want: "h.example/prefix"},
		{in: "127.0.0.1", insecure: true, want: "127.0.0.1"},
		{in: "http://127.0.0.1:18765", insecure: true, want: "//127.0.0.1:18765"},
		{in: "127.0.0.1:18765", want: "//127.0.0.1:18765"},
		{in: "http://127.0.0.1:18765", wantErr: "http://127.0.0.1:18765 uses http: add --insecure to allow a remote without TLS"},
		{in: "ftp://h", wantErr: `invalid URI "ftp://h": scheme must be http or https`},
		{in: " ", wantErr: "invalid URI: cannot have empty URI"},
		{in: "https://u:p@h", wantErr: `invalid URI "https://u:p@h": only host[:port][/path] is allowed`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := credstore.RemoteURI(tt.in, tt.insecure)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestRemoteBaseURL(t *testing.T) {
	for _, tt := range []struct {
		r    credstore.Remote
		want string
	}{
		{credstore.Remote{URI: "cloud.sylabs.io"}, "https://cloud.sylabs.io"},
		{credstore.Remote{URI: "//127.0.0.1:18765", Insecure: true}, "http://127.0.0.1:18765"},
		{credstore.Remote{URI: "127.0.0.1:18765", Insecure: true}, "http://127.0.0.1:18765"}, // what Singularity 4.3.3 writes
		{credstore.Remote{URI: "h.example/prefix"}, "https://h.example/prefix"},
	} {
		if got, err := tt.r.BaseURL(); err != nil || got != tt.want {
			t.Errorf("%q: got %q, %v; want %q", tt.r.URI, got, err, tt.want)
		}
	}
}
