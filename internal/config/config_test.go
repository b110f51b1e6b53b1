package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAreValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.SQLitePath() != filepath.Join("silo-data", "silo.db") {
		t.Fatalf("sqlite path %s", c.SQLitePath())
	}
}

func TestFileEnvPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "silo.yaml")
	os.WriteFile(path, []byte("addr: 127.0.0.1:9000\nlibrary:\n  default_private: true\nauth:\n  token_ttl: 5m\n"), 0o600)
	c := Default()
	if err := c.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SILO_ADDR": "127.0.0.1:9001", "SILO_USER_COLLECTIONS": "false", "SILO_SREGISTRY_DEFAULT_ENTITY": "lab"}
	if err := c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9001" || !c.Library.DefaultPrivate || c.Library.UserCollections || time.Duration(c.Auth.TokenTTL) != 5*time.Minute ||
		c.SRegistry.DefaultEntity != "lab" || c.Validate() != nil {
		t.Fatalf("%+v", c)
	}
}

func TestStrictAndAllProblems(t *testing.T) {
	path := filepath.Join(t.TempDir(), "silo.yaml")
	os.WriteFile(path, []byte("library:\n  defualt_private: true\n"), 0o600)
	c := Default()
	if err := c.LoadFile(path); err == nil || !strings.Contains(err.Error(), "defualt_private") {
		t.Fatalf("typo accepted: %v", err)
	}
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	os.WriteFile(empty, nil, 0o600)
	if err := c.LoadFile(empty); err != nil {
		t.Fatalf("empty file: %v", err)
	}
	c = Default()
	c.Addr, c.PublicURL, c.Log.Format, c.TLSCert = "bad", "http://", "xml", "/no/cert"
	c.SRegistry.DefaultEntity = "Not/An/Entity"
	err := c.Validate()
	for _, want := range []string{"addr", "public_url", "log.format", "tls_cert and tls_key", "sregistry.default_entity"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	bad := c.ApplyEnv(func(k string) (string, bool) {
		if k == "SILO_DEFAULT_PRIVATE" || k == "SILO_TOKEN_TTL" {
			return "nope", true
		}
		return "", false
	})
	if bad == nil || !strings.Contains(bad.Error(), "SILO_DEFAULT_PRIVATE") || !strings.Contains(bad.Error(), "SILO_TOKEN_TTL") {
		t.Fatalf("env errors: %v", bad)
	}
}

// Validate's messages are printed by --check-config and logged: a password
// in the database DSN or the public URL must not appear in them.
func TestValidateHidesURLPasswords(t *testing.T) {
	const secret = "s3cr3tpw"
	for _, tc := range []struct{ name, field, want string }{
		{"bad DSN escape", "database", "database"},
		{"public URL with credentials", "public_url", "public_url"},
		{"unparsable public URL", "public_url_bad", "public_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			switch tc.field {
			case "database":
				c.Database = "postgres://silo:" + secret + "%zz@db.example/silo"
			case "public_url":
				c.PublicURL = "https://admin:" + secret + "@silo.example"
			case "public_url_bad":
				c.PublicURL = "https://admin:" + secret + "@silo.example:port/"
			}
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want a %s problem, got %v", tc.want, err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("password in the message: %v", err)
			}
		})
	}
}
