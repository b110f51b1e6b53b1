package sregistryapi_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/keyserver/keyservertest"
	"github.com/silo-hpc/silo/internal/meta"
)

// adminP acts as an admin on the services directly.
var adminP = auth.Principal{Role: meta.RoleAdmin, UserID: "x", Name: "admin"}

// A collection's signature policy refuses sregistry-cli pushes that lack
// a valid signature by its keys, in sregistry's {"detail"} form, and
// records nothing of them; a valid one goes in.
func TestSignaturePolicySRegistry(t *testing.T) {
	e := newEnv(t)
	key := keyservertest.NewEntity(t, "Alice", "alice@example.org")
	keyservertest.Push(t, e.srv.URL, e.users["alice"].token, key)
	fp := fmt.Sprintf("%X", key.PrimaryKey.Fingerprint)
	file := func(seed uint64, tamper bool, signed bool) string {
		var b []byte
		if signed {
			b = keyservertest.SIF(t, seed, tamper, key)
		} else {
			b = keyservertest.SIF(t, seed, tamper)
		}
		path := filepath.Join(t.TempDir(), "x.sif")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	c := e.cli("alice")
	if res := c.push(file(1, false, true), "secure", "app", "v1"); res.status2 != 200 {
		t.Fatalf("push before the policy: %+v", res)
	}
	ref, err := e.srv.Library.ContainerByPath(t.Context(), adminP, "alice/secure/app")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Library.SetSignaturePolicy(t.Context(), adminP, ref.Collection.ID, []string{fp}); err != nil {
		t.Fatal(err)
	}
	before := e.images("alice/secure/app")
	for _, tc := range []struct {
		tag, path, why string
	}{
		{"unsigned", file(2, false, false), "the image is not signed"},
		{"tampered", file(3, true, true), "does not verify"},
	} {
		res := c.push(tc.path, "secure", "app", tc.tag)
		detail := wantDetail(t, res.status2, res.body2, 403)
		if !strings.Contains(detail, "accepts only images with a valid signature by "+fp) || !strings.Contains(detail, tc.why) {
			t.Fatalf("push %s: %s", tc.tag, detail)
		}
	}
	if got := e.images("alice/secure/app"); strings.Join(got, ",") != strings.Join(before, ",") {
		t.Fatalf("refused pushes left images: %v, before %v", got, before)
	}
	if res := c.push(file(4, false, true), "secure", "app", "v2"); res.status2 != 200 {
		t.Fatalf("a valid push: %d %s", res.status2, res.body2)
	}
}
