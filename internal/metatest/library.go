package metatest

import "testing"

// testLibrary checks meta.Library (images, per-arch tags, labels).
func testLibrary(t *testing.T, newStore NewStore) {}
