package signedtest

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/sifinspect"
	"github.com/silo-hpc/silo/internal/sifinspect/sifinspecttest"
)

func inspect(t *testing.T, img []byte) *sifinspect.Inspection {
	t.Helper()
	ins, err := sifinspect.Inspect(context.Background(), bytes.NewReader(img), int64(len(img)), sifinspect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ins
}

// A signed image reads as its unsigned self (which package sifinspect's
// tests check field by field) plus the signature: object, fingerprint,
// hash and signed group.
func TestInspectSigned(t *testing.T) {
	dir := t.TempDir()
	sifinspecttest.Singularity().Write(t, dir)
	e := NewEntity(t)
	fp := strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint))
	for _, comp := range []string{"gzip", "xz", "zstd"} {
		t.Run(comp, func(t *testing.T) {
			o := sifinspecttest.SIFOptions{Deffile: sifinspecttest.Deffile, Labels: map[string]string{"a": "b"}}
			plain := sifinspecttest.SIF(t, sifinspecttest.Squash(t, dir, comp), o)
			got := inspect(t, Sign(t, plain, e))
			want := inspect(t, plain)
			want.Signed = true
			// The signature is the next object, in no group, linked to
			// group 1; its size is the signature's.
			id := uint32(len(want.Objects) + 1)
			size := got.Objects[len(got.Objects)-1].Size
			want.Objects = append(want.Objects, sifinspect.Object{ID: id, Type: "Signature", LinkedGroup: 1, Size: size})
			want.Signatures = []sifinspect.Signature{{ID: id, Fingerprint: fp, HashType: "SHA-256", SignedGroup: 1}}
			if !reflect.DeepEqual(got, want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(want)
				t.Errorf("signed inspection\n%s\nwant\n%s", g, w)
			}
		})
	}
}

// TestUpdateFixtures remakes ../testdata/signed-gzip.sif, a signed seed
// for FuzzInspect (whose package cannot sign, see the package comment).
func TestUpdateFixtures(t *testing.T) {
	if os.Getenv("SIFINSPECT_UPDATE_FIXTURES") != "1" {
		t.Skip("set SIFINSPECT_UPDATE_FIXTURES=1 to remake testdata")
	}
	sq, err := os.ReadFile(filepath.Join("..", "testdata", "singularity-gzip.sqfs"))
	if err != nil {
		t.Fatal(err)
	}
	img := sifinspecttest.SIF(t, sq, sifinspecttest.SIFOptions{Deffile: "x", Labels: map[string]string{"a": "b"}, Descriptors: 6})
	if err := os.WriteFile(filepath.Join("..", "testdata", "signed-gzip.sif"), Sign(t, img, NewEntity(t)), 0o644); err != nil {
		t.Fatal(err)
	}
}
