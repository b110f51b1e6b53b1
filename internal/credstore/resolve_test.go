package credstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/credstore"
	"github.com/silo-hpc/silo/internal/credstore/credstoretest"
)

var credentialEnv = []string{
	"SILO_DOCKER_USERNAME", "SILO_DOCKER_PASSWORD", "DOCKER_USERNAME", "DOCKER_PASSWORD",
	credstore.EnvAuthFile, credstore.EnvConfigDir,
}

// clearCredentialEnv unsets every variable Resolve reads (t.Setenv first,
// so each is restored after the test) and gives the test its own config
// directory.
func clearCredentialEnv(t *testing.T) string {
	t.Helper()
	for _, k := range credentialEnv {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv(credstore.EnvConfigDir, filepath.Join(dir, "silo"))
	return filepath.Join(dir, "silo")
}

func TestResolvePrecedence(t *testing.T) {
	fileCreds := `{"auths":{"reg.example:5000":{"auth":"ZmlsZTpmaWxlcGFzcw=="},"reg.example:5000/team/app":{"auth":"cmVwbzpyZXBvcGFzcw=="}}}`
	tests := []struct {
		name     string
		flags    credstore.ResolveOptions
		env      map[string]string
		repo     string
		wantUser string
		wantPass string
		wantSrc  credstore.Source
	}{
		{name: "host key without a repository entry", repo: "x", wantSrc: credstore.SourceAuthFile, wantUser: "file", wantPass: "filepass"},
		{name: "repository key before host key", repo: "team/app", wantSrc: credstore.SourceAuthFile, wantUser: "repo", wantPass: "repopass"},
		{name: "bare DOCKER_ over the file", env: map[string]string{"DOCKER_USERNAME": "d", "DOCKER_PASSWORD": "dp"},
			wantSrc: credstore.SourceDockerEnv, wantUser: "d", wantPass: "dp"},
		{name: "SILO_DOCKER_ over DOCKER_", env: map[string]string{"DOCKER_USERNAME": "d", "DOCKER_PASSWORD": "dp", "SILO_DOCKER_USERNAME": "s", "SILO_DOCKER_PASSWORD": "sp"},
			wantSrc: credstore.SourceSiloEnv, wantUser: "s", wantPass: "sp"},
		{name: "flags over everything", flags: credstore.ResolveOptions{Username: "f", Password: "fp"},
			env:     map[string]string{"SILO_DOCKER_USERNAME": "s", "SILO_DOCKER_PASSWORD": "sp"},
			wantSrc: credstore.SourceFlags, wantUser: "f", wantPass: "fp"},
		{name: "each variable resolves on its own", flags: credstore.ResolveOptions{Username: "f"},
			env:     map[string]string{"SILO_DOCKER_PASSWORD": "sp", "DOCKER_USERNAME": "d"},
			wantSrc: credstore.SourceFlags, wantUser: "f", wantPass: "sp"},
		{name: "empty SILO_ variable blocks DOCKER_", env: map[string]string{"SILO_DOCKER_USERNAME": "", "SILO_DOCKER_PASSWORD": "", "DOCKER_USERNAME": "d", "DOCKER_PASSWORD": "dp"},
			wantSrc: credstore.SourceAuthFile, wantUser: "file", wantPass: "filepass"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := clearCredentialEnv(t)
			os.MkdirAll(dir, 0o700)
			writeFile(t, filepath.Join(dir, "docker-config.json"), fileCreds)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			got, err := credstore.Resolve(context.Background(), tt.flags, "reg.example:5000", tt.repo)
			if err != nil {
				t.Fatal(err)
			}
			if got.Username != tt.wantUser || got.Password != tt.wantPass || got.Source != tt.wantSrc {
				t.Errorf("got %s %s:%s, want %s %s:%s", got.Source, got.Username, got.Password, tt.wantSrc, tt.wantUser, tt.wantPass)
			}
		})
	}
}

func TestResolveAnonymous(t *testing.T) {
	clearCredentialEnv(t)
	got, err := credstore.Resolve(context.Background(), credstore.ResolveOptions{}, "nowhere.example", "a/b")
	if err != nil || got.Source != credstore.SourceAnonymous || !got.IsEmpty() {
		t.Errorf("got %+v, %v; want anonymous", got, err)
	}
}

func TestResolveAuthFileChoice(t *testing.T) {
	clearCredentialEnv(t)
	dir := t.TempDir()
	flagFile := filepath.Join(dir, "flag.json")
	envFile := filepath.Join(dir, "env.json")
	writeFile(t, flagFile, `{"auths":{"r.example":{"auth":"ZmxhZzpm"}}}`)
	writeFile(t, envFile, `{"auths":{"r.example":{"auth":"ZW52OmU="}}}`)
	t.Setenv(credstore.EnvAuthFile, envFile)
	ctx := context.Background()
	if got, _ := credstore.Resolve(ctx, credstore.ResolveOptions{}, "r.example", ""); got.Username != "env" || got.File != envFile {
		t.Errorf("SILO_AUTHFILE not used: %+v", got)
	}
	if got, _ := credstore.Resolve(ctx, credstore.ResolveOptions{AuthFile: flagFile}, "r.example", ""); got.Username != "flag" || got.File != flagFile {
		t.Errorf("--authfile not preferred: %+v", got)
	}
}

func TestResolveWarnsOnUnreadableExplicitFile(t *testing.T) {
	clearCredentialEnv(t)
	bad := filepath.Join(t.TempDir(), "bad.json")
	writeFile(t, bad, "{oops")
	var warnings []string
	opts := credstore.ResolveOptions{AuthFile: bad, Warnf: func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) }}
	got, err := credstore.Resolve(context.Background(), opts, "r.example", "")
	if err != nil || got.Source != credstore.SourceAnonymous {
		t.Fatalf("got %+v, %v", got, err)
	}
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "Unable to find matching credentials in specified file (") ||
		!strings.HasSuffix(warnings[0], "); proceeding with anonymous authentication.") {
		t.Errorf("warnings = %q", warnings)
	}
}

// A docker-config.json written by real Singularity 4.3.3 works as --authfile.
func TestResolveWithSingularityFixture(t *testing.T) {
	clearCredentialEnv(t)
	path := filepath.Join(t.TempDir(), "docker-config.json")
	data, err := os.ReadFile("../../testdata/singularity-4.3.3/docker-config.after-login.json")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(data))
	got, err := credstore.Resolve(context.Background(), credstore.ResolveOptions{AuthFile: path}, "127.0.0.1:15077", "lib/img")
	if err != nil || got.Username != "harness" || got.Password != "harnesspass" || got.Key != "127.0.0.1:15077" {
		t.Errorf("got %+v, %v", got, err)
	}
}

func TestResolveThroughHelper(t *testing.T) {
	clearCredentialEnv(t)
	creds := credstoretest.InstallHelper(t)
	writeFile(t, creds, `{"r.example":{"Username":"hu","Secret":"hs"}}`)
	path := filepath.Join(t.TempDir(), "c.json")
	writeFile(t, path, `{"auths":{"r.example":{}},"credHelpers":{"r.example":"silotest"}}`)
	got, err := credstore.Resolve(context.Background(), credstore.ResolveOptions{AuthFile: path}, "r.example", "a/b")
	if err != nil || got.Username != "hu" || got.Password != "hs" {
		t.Errorf("got %+v, %v", got, err)
	}
}
