package server

import (
	"testing"

	"github.com/silo-hpc/silo/internal/config"
)

// Replicas starting together on one data directory agree on the key.
func TestSigningKeyCreatedOnce(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	keys := make(chan string, 8)
	for range 8 {
		go func() {
			k, err := SigningKey(cfg)
			if err != nil {
				t.Error(err)
			}
			keys <- string(k)
		}()
	}
	first := <-keys
	for range 7 {
		if k := <-keys; k != first || len(k) < 32 {
			t.Fatalf("replicas got different or short keys")
		}
	}
	again, err := SigningKey(cfg)
	if err != nil || string(again) != first {
		t.Fatalf("restart changed the key: %v", err)
	}
}
