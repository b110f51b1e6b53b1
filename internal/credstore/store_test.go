package credstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/credstore"
	"github.com/silo-hpc/silo/internal/credstore/credstoretest"
)

func TestHelperProtocol(t *testing.T) {
	creds := credstoretest.InstallHelper(t)
	ctx := context.Background()
	h := credstore.Helper{Name: credstoretest.HelperName}

	if _, err := h.Get(ctx, "r.example"); !errors.Is(err, credstore.ErrHelperNotFound) {
		t.Fatalf("Get of nothing: %v, want ErrHelperNotFound", err)
	}
	if err := h.Store(ctx, "r.example", credstore.AuthConfig{Username: "u", Password: "p"}); err != nil {
		t.Fatal(err)
	}
	if err := h.Store(ctx, "t.example", credstore.AuthConfig{IdentityToken: "refresh"}); err != nil {
		t.Fatal(err)
	}
	if got, err := h.Get(ctx, "r.example"); err != nil || got != (credstore.AuthConfig{Username: "u", Password: "p"}) {
		t.Errorf("Get = %+v, %v", got, err)
	}
	// docker/cli's convention: an identity token travels as user "<token>".
	if got := credstoretest.Stored(t, creds)["t.example"]; got.Username != "<token>" || got.Secret != "refresh" {
		t.Errorf("identity token stored as %+v", got)
	}
	if got, err := h.Get(ctx, "t.example"); err != nil || got != (credstore.AuthConfig{IdentityToken: "refresh"}) {
		t.Errorf("Get = %+v, %v", got, err)
	}
	if got, err := h.List(ctx); err != nil || !reflect.DeepEqual(got, map[string]string{"r.example": "u", "t.example": "<token>"}) {
		t.Errorf("List = %v, %v", got, err)
	}
	if err := h.Erase(ctx, "r.example"); err != nil {
		t.Fatal(err)
	}
	if err := h.Erase(ctx, "r.example"); !errors.Is(err, credstore.ErrHelperNotFound) {
		t.Errorf("second Erase: %v", err)
	}
	err := h.Store(ctx, "", credstore.AuthConfig{Username: "u"})
	if err == nil || !strings.Contains(err.Error(), "no credentials server URL") {
		t.Errorf("helper's own error not passed on: %v", err)
	}
	if _, err := (credstore.Helper{Name: "absent-helper"}).Get(ctx, "x"); err == nil || !strings.Contains(err.Error(), "docker-credential-absent-helper") {
		t.Errorf("missing helper: %v", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestStoreThroughCredsStore(t *testing.T) {
	creds := credstoretest.InstallHelper(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "config.json")
	writeFile(t, path, `{"credsStore":"silotest","auths":{}}`)
	s, err := credstore.OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	helper, err := s.Put(ctx, "r.example:5000", credstore.AuthConfig{Username: "u", Password: "p"}, "")
	if err != nil || helper != "silotest" {
		t.Fatalf("Put = %q, %v", helper, err)
	}
	want := "{\n\t\"auths\": {\n\t\t\"r.example:5000\": {}\n\t},\n\t\"credsStore\": \"silotest\"\n}"
	if got := readFile(t, path); got != want {
		t.Errorf("file:\n%s\nwant:\n%s", got, want)
	}
	if got := credstoretest.Stored(t, creds)["r.example:5000"]; got != (credstoretest.Creds{Username: "u", Secret: "p"}) {
		t.Errorf("helper holds %+v", got)
	}
	if a, found, err := s.Get(ctx, "r.example:5000"); err != nil || !found || a.Password != "p" {
		t.Errorf("Get = %+v %v %v", a, found, err)
	}
	if err := s.Delete(ctx, "r.example:5000"); err != nil {
		t.Fatal(err)
	}
	if len(credstoretest.Stored(t, creds)) != 0 || s.Config.Has("r.example:5000") {
		t.Error("Delete left credentials behind")
	}
}

func TestCredHelpersWinOverCredsStoreAndFile(t *testing.T) {
	creds := credstoretest.InstallHelper(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "config.json")
	writeFile(t, path, `{"credsStore":"absent-helper","credHelpers":{"h.example":"silotest"},"auths":{"h.example":{"auth":"ZmlsZTpmaWxl"}}}`)
	writeFile(t, creds, `{"h.example":{"Username":"helper","Secret":"hs"}}`)
	s, _ := credstore.OpenStore(path)
	a, found, err := s.Get(ctx, "h.example")
	if err != nil || !found || a.Username != "helper" {
		t.Errorf("Get = %+v %v %v, want the helper's", a, found, err)
	}
}

func TestPutWithNamedHelperRecordsIt(t *testing.T) {
	creds := credstoretest.InstallHelper(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "config.json")
	writeFile(t, path, `{"auths":{"other":{"auth":"dTpw"}}}`)
	s, _ := credstore.OpenStore(path)
	if _, err := s.Put(ctx, "h.example", credstore.AuthConfig{Username: "u", Password: "p"}, "silotest"); err != nil {
		t.Fatal(err)
	}
	want := "{\n\t\"auths\": {\n\t\t\"h.example\": {},\n\t\t\"other\": {\n\t\t\t\"auth\": \"dTpw\"\n\t\t}\n\t},\n\t\"credHelpers\": {\n\t\t\"h.example\": \"silotest\"\n\t}\n}"
	if got := readFile(t, path); got != want {
		t.Errorf("file:\n%s\nwant:\n%s", got, want)
	}
	if _, ok := credstoretest.Stored(t, creds)["h.example"]; !ok {
		t.Error("helper did not receive the credentials")
	}
}

func TestHelperFailureWritesNothing(t *testing.T) {
	creds := credstoretest.InstallHelper(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "config.json")
	before := `{"auths":{}}`
	writeFile(t, path, before)
	// The helper cannot write into a missing directory, so store fails.
	t.Setenv("SILOTEST_CREDS_FILE", filepath.Join(filepath.Dir(creds), "missing", "c.json"))
	s, _ := credstore.OpenStore(path)
	if _, err := s.Put(ctx, "h", credstore.AuthConfig{Username: "u", Password: "p"}, "silotest"); err == nil {
		t.Fatal("Put succeeded with a failing helper")
	}
	if got := readFile(t, path); got != before {
		t.Errorf("file changed to %s", got)
	}
}

func TestRegistryKey(t *testing.T) {
	for host, want := range map[string]string{
		"docker.io": credstore.DockerHubKey, "index.docker.io": credstore.DockerHubKey,
		"127.0.0.1:5000": "127.0.0.1:5000", "ghcr.io": "ghcr.io",
	} {
		if got := credstore.RegistryKey(host); got != want {
			t.Errorf("RegistryKey(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestPaths(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv(credstore.EnvConfigDir, "")
	t.Setenv(credstore.EnvAuthFile, "")
	if got, _ := credstore.DefaultAuthFile(); got != filepath.Join(home, ".silo", "docker-config.json") {
		t.Errorf("DefaultAuthFile = %s", got)
	}
	t.Setenv(credstore.EnvConfigDir, "/cfg")
	if got, _ := credstore.RemoteConfigFile(); got != "/cfg/remote.yaml" {
		t.Errorf("RemoteConfigFile = %s", got)
	}
	if got, explicit, _ := credstore.AuthFile(""); got != "/cfg/docker-config.json" || explicit {
		t.Errorf("AuthFile() = %s %v", got, explicit)
	}
	t.Setenv(credstore.EnvAuthFile, "/env.json")
	if got, explicit, _ := credstore.AuthFile(""); got != "/env.json" || !explicit {
		t.Errorf("AuthFile(env) = %s %v", got, explicit)
	}
	if got, explicit, _ := credstore.AuthFile("./flag.json"); got != "./flag.json" || !explicit {
		t.Errorf("AuthFile(flag) = %s %v", got, explicit)
	}
}

func TestConfigDirIsMadePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "silo")
	t.Setenv(credstore.EnvConfigDir, dir)
	os.MkdirAll(dir, 0o755)
	os.Chmod(dir, 0o755)
	other := filepath.Join(t.TempDir(), "shared")
	os.MkdirAll(other, 0o755)
	os.Chmod(other, 0o755)
	for _, path := range []string{filepath.Join(dir, "docker-config.json"), filepath.Join(other, "auth.json")} {
		c, _ := credstore.LoadDockerConfig(path)
		if err := c.Save(); err != nil {
			t.Fatal(err)
		}
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, other: 0o755} {
		if fi, _ := os.Stat(path); fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
}
