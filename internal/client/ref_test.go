package client_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/client"
)

func TestParseRef(t *testing.T) {
	h := strings.Repeat("ab", 32)
	for raw, want := range map[string]client.Ref{
		"tacos":                                {Scheme: "library", Path: "tacos"},
		"vanessa/tacos:latest":                 {Scheme: "library", Path: "vanessa/tacos", Tags: []string{"latest"}},
		"vanessa/tacos:latest@" + h[:32]:       {Scheme: "library", Path: "vanessa/tacos", Tags: []string{"latest"}, Version: h[:32]},
		"registry://milkshakes/pudding:banana": {Scheme: "library", Path: "milkshakes/pudding", Tags: []string{"banana"}},
		"library://alice/dino/rex:a,b":         {Scheme: "library", Path: "alice/dino/rex", Tags: []string{"a", "b"}},
		"library://h.example:8443/alice/dino/rex:sha256." + h: {Scheme: "library", Host: "h.example:8443",
			Path: "alice/dino/rex", Tags: []string{"sha256." + h}},
		"library://host/alpine":            {Scheme: "library", Path: "host/alpine"}, // SingularityCE's reading
		"oras://r.example:5000/a/b/c:v1":   {Scheme: "oras", Host: "r.example:5000", Path: "a/b/c", Tags: []string{"v1"}},
		"docker://r.example/a@sha256:" + h: {Scheme: "docker", Host: "r.example", Path: "a", Digest: "sha256:" + h},
		"shub://127.0.0.1:80/coll/name:t@" + h[:40]: {Scheme: "shub", Host: "127.0.0.1:80", Path: "coll/name",
			Tags: []string{"t"}, Version: h[:40]},
		"shub://h/sub/coll/name": {Scheme: "shub", Host: "h/sub", Path: "coll/name"},
	} {
		got, err := client.ParseRef(raw)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v", raw, got, err, want)
		}
	}
	for raw, msg := range map[string]string{
		"ftp://x/y":             `unsupported transport "ftp"`,
		"a/b/c/d":               "too many path components",
		"a//b":                  "empty path component",
		"tacos:":                "empty tag",
		"oras://host":           "a registry host and a repository",
		"docker://h/a@md5:00":   "is not sha256",
		"shub://coll/name":      "host/collection/container",
		"library://h/a/b/c/d/e": "too many path components",
	} {
		if _, err := client.ParseRef(raw); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseRef(%q) err = %v, want %q", raw, err, msg)
		}
	}
	if tag := (client.Ref{}).Tag(); tag != "latest" {
		t.Errorf("default tag %q", tag)
	}
}
