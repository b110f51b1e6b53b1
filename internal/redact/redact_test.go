package redact

import (
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for raw, want := range map[string]string{
		"postgres://silo:s3cret@db:5432/silo": "postgres://silo:xxxxx@db:5432/silo",
		"postgres://silo:s3cret@db:badport/x": "postgres://silo:xxxxx@db:badport/x",
		"docker://me:pw%zz@host/x":            "docker://me:xxxxx@host/x",
		"docker://host:5000":                  "docker://host:5000",
		"no scheme user:pw@host":              "no scheme user:pw@host",
		"https://onlyuser@host/path?q=1#frag": "https://onlyuser@host/path?q=1#frag",
	} {
		got := URL(raw)
		if got != want {
			t.Errorf("URL(%q) = %q, want %q", raw, got, want)
		}
		if strings.Contains(raw, "://") && strings.Contains(got, "s3cret") {
			t.Errorf("password left in %q", got)
		}
	}
}
