package cli

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/silo-hpc/silo/internal/credstore/credstoretest"
	"github.com/silo-hpc/silo/internal/testenv"
)

// The file `silo registry login` writes must read the same to the tools
// users mix with Silo: crane (go-containerregistry's DefaultKeychain, via
// docker/cli's configfile), oras (oras-go's credentials store) and skopeo.

// loginInto logs in to a fake registry, storing into <dir>/config.json, the
// name docker, crane and oras look for in $DOCKER_CONFIG.
func loginInto(t *testing.T, extraArgs ...string) (tg registryTarget, authFile string) {
	t.Helper()
	tg = registryTargets(t)[1]
	isolate(t)
	dockerConfig := t.TempDir()
	authFile = filepath.Join(dockerConfig, "config.json")
	t.Setenv("DOCKER_CONFIG", dockerConfig)
	args := append([]string{"registry", "login", "--authfile", authFile, "-u", tg.user, "--password-stdin"}, extraArgs...)
	r := runSilo(t, tg.pass, append(args, "docker://"+tg.host)...)
	if r.code != 0 {
		t.Fatalf("login failed: %s", r.stderr)
	}
	return tg, authFile
}

func assertCraneReads(t *testing.T, tg registryTarget) {
	t.Helper()
	reg, err := name.NewRegistry(tg.host)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := authn.DefaultKeychain.Resolve(reg)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := auth.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Username != tg.user || cfg.Password != tg.pass {
		t.Errorf("go-containerregistry read %+v", cfg)
	}
}

func assertOrasReads(t *testing.T, tg registryTarget, authFile string) {
	t.Helper()
	store, err := credentials.NewStore(authFile, credentials.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cred, err := store.Get(context.Background(), tg.host)
	if err != nil {
		t.Fatal(err)
	}
	if cred.Username != tg.user || cred.Password != tg.pass {
		t.Errorf("oras-go read %+v", cred)
	}
}

func TestInteropGoContainerRegistry(t *testing.T) {
	tg, _ := loginInto(t)
	assertCraneReads(t, tg)
}

func TestInteropOras(t *testing.T) {
	tg, authFile := loginInto(t)
	assertOrasReads(t, tg, authFile)
}

// Credentials kept by a helper are found by the other tools too, through
// the credHelpers entry and the empty auths placeholder.
func TestInteropCredentialHelper(t *testing.T) {
	credstoretest.InstallHelper(t)
	tg, authFile := loginInto(t, "--creds-store", credstoretest.HelperName)
	assertCraneReads(t, tg)
	assertOrasReads(t, tg, authFile)
}

func TestInteropSkopeo(t *testing.T) {
	skopeo := testenv.LookPath(t, "skopeo")
	tg, authFile := loginInto(t)
	out, err := exec.Command(skopeo, "login", "--get-login", "--authfile", authFile, tg.host).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != tg.user {
		t.Errorf("skopeo login --get-login printed %q, want %q", got, tg.user)
	}
}
