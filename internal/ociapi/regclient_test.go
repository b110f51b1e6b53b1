package ociapi_test

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/regclient/regclient"
	"github.com/regclient/regclient/config"
	"github.com/regclient/regclient/types/ref"
)

// regclient (regctl) deletes tags and manifests through the token flow:
// it starts anonymous, follows the challenge, and asks for what it names.
func TestRegclientDeletes(t *testing.T) {
	e := newEnv(t)
	img, _ := random.Image(256, 1)
	for _, tag := range []string{"keep", "drop", "gone"} {
		if err := remote.Write(e.ref("admin/rc:"+tag), img, e.ggcrOpts(nil, "admin", e.adminToken)...); err != nil {
			t.Fatal(err)
		}
	}
	rc := regclient.New(regclient.WithConfigHost(config.Host{Name: e.host, TLS: config.TLSDisabled, User: "admin", Pass: e.adminToken}))
	ctx := context.Background()
	parse := func(s string) ref.Ref {
		r, err := ref.New(e.host + "/" + s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if err := rc.TagDelete(ctx, parse("admin/rc:drop")); err != nil {
		t.Fatalf("regctl tag rm: %v", err)
	}
	tags, err := rc.TagList(ctx, parse("admin/rc"))
	if err != nil {
		t.Fatal(err)
	}
	names, _ := tags.GetTags()
	for _, n := range names {
		if n == "drop" {
			t.Fatalf("tag drop survived: %v", names)
		}
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.ManifestDelete(ctx, parse("admin/rc@"+d.String())); err != nil {
		t.Fatalf("regctl manifest rm: %v", err)
	}
	if _, err := rc.ManifestHead(ctx, parse("admin/rc:keep")); err == nil {
		t.Fatal("the manifest survived its delete")
	}
}
