// Package signedtest signs test SIFs with sif/v2's integrity package, and
// its tests check what package sifinspect reports about signed images.
// It is apart from sifinspecttest so that the fuzz targets' test binaries
// do not link integrity and its dependencies (sigstore, go-jose, protobuf):
// the fuzzer tracks coverage over every linked package, and they made it
// run a few inputs a second instead of thousands.
package signedtest

import (
	"bytes"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/sylabs/sif/v2/pkg/integrity"
	"github.com/sylabs/sif/v2/pkg/sif"

	"github.com/silo-hpc/silo/internal/sifinspect/sifinspecttest"
)

// NewEntity makes an OpenPGP signing key (EdDSA: quick to generate).
func NewEntity(t testing.TB) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity("Silo Test", "sifinspect", "test@example.org",
		&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: sifinspecttest.Created})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Sign returns img with a signature by e over every object group, as
// `singularity sign` makes it.
func Sign(t testing.TB, img []byte, e *openpgp.Entity) []byte {
	t.Helper()
	buf := sif.NewBuffer(bytes.Clone(img))
	f, err := sif.LoadContainer(buf, sif.OptLoadWithCloseOnUnload(false))
	if err != nil {
		t.Fatal(err)
	}
	s, err := integrity.NewSigner(f, integrity.OptSignWithEntity(e), integrity.OptSignWithTime(sifinspecttest.Created))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sign(); err != nil {
		t.Fatal(err)
	}
	if err := f.UnloadContainer(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
