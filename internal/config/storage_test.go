package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestS3FromFileAndEnv(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	path := filepath.Join(dir, "silo.yaml")
	os.WriteFile(path, []byte(`storage: s3
s3:
  endpoint: http://minio:9000
  bucket: silo-blobs
  access_key: AKIA
  secret_key_file: `+secret+`
  path_style: true
  part_size: 32MiB
gc:
  grace: 2h
`), 0o600)
	c := Default()
	if err := c.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SILO_S3_PREFIX": "silo/", "SILO_S3_REGION": "eu-west-1", "SILO_GC_INTERVAL": "0s"}
	if err := c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	got, err := c.S3.S3Secret()
	if c.Storage != StorageS3 || c.S3.Bucket != "silo-blobs" || !c.S3.PathStyle || c.S3.PartSize != 32<<20 ||
		c.S3.Prefix != "silo/" || c.S3.Region != "eu-west-1" || err != nil || got != "s3cret" ||
		c.GC.Interval != 0 || time.Duration(c.GC.Grace) != 2*time.Hour {
		t.Fatalf("%+v, secret %q %v", c, got, err)
	}
}

func TestS3Problems(t *testing.T) {
	c := Default()
	c.Storage = StorageS3
	c.S3 = S3{Endpoint: "ftp://user:pw@host", Bucket: "Bad_Bucket", AccessKey: "only-access", Prefix: "/abs", PartSize: 1 << 20}
	c.GC.Grace = Duration(time.Second)
	err := c.Validate()
	for _, want := range []string{"s3.endpoint", "s3.bucket", "s3.access_key", "s3.prefix", "s3.part_size", "gc.grace"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	if err != nil && strings.Contains(err.Error(), "pw") {
		t.Errorf("the endpoint's password is shown: %v", err)
	}
	c = Default()
	c.Storage = "nfs"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "storage") {
		t.Errorf("storage nfs accepted: %v", err)
	}
	if _, err := ParseBytes("12 parsecs"); err == nil {
		t.Errorf("a bad size parsed")
	}
	if b, err := ParseBytes("5MiB"); err != nil || b != 5<<20 {
		t.Errorf("5MiB = %d, %v", b, err)
	}
}
