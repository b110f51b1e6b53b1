package metatest

import "testing"

// testOCI checks meta.OCI (repositories, manifests, tags, referrers, blobs).
func testOCI(t *testing.T, newStore NewStore) {}
