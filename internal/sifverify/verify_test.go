package sifverify_test

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/sylabs/sif/v2/pkg/sif"

	"github.com/silo-hpc/silo/internal/sifinspect/sifinspecttest"
	"github.com/silo-hpc/silo/internal/sifinspect/signedtest"
	"github.com/silo-hpc/silo/internal/sifverify"
)

// image is a SIF whose primary partition is 256 KiB of noise (the check
// hashes it; it need not be a file system).
func image(t *testing.T) []byte {
	t.Helper()
	part := make([]byte, 256<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range part {
		part[i] = byte(r.Uint32())
	}
	return sifinspecttest.SIF(t, part, sifinspecttest.SIFOptions{Deffile: "Bootstrap: scratch\n"})
}

func verify(t *testing.T, img []byte, keys ...*openpgp.Entity) []sifverify.Signature {
	t.Helper()
	sigs, err := sifverify.Verify(context.Background(), bytes.NewReader(img), int64(len(img)), keys, sifverify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return sigs
}

func statuses(sigs []sifverify.Signature) string {
	var out []string
	for _, s := range sigs {
		out = append(out, string(s.Status))
	}
	return strings.Join(out, ",")
}

func TestVerify(t *testing.T) {
	alice, bob := signedtest.NewEntity(t), signedtest.NewEntity(t)
	plain := image(t)
	signed := signedtest.Sign(t, plain, alice)
	twice := signedtest.Sign(t, signed, bob)
	tampered := bytes.Clone(signed)
	tampered[len(plain)-100] ^= 1 // inside the partition, before the signature

	if sigs := verify(t, plain, alice); len(sigs) != 0 {
		t.Fatalf("unsigned image: %+v", sigs)
	}
	sigs := verify(t, signed, bob, alice)
	if len(sigs) != 1 || sigs[0].Status != sifverify.Verified || !sigs[0].CoversPrimary ||
		sigs[0].Fingerprint != strings.ToUpper(fpOf(alice)) || len(sigs[0].Objects) != 2 || sigs[0].Error != "" {
		t.Fatalf("signed image: %+v", sigs)
	}
	for _, tc := range []struct {
		name string
		img  []byte
		keys []*openpgp.Entity
		want string
	}{
		{"no keys", signed, nil, "unknown_key"},
		{"another key", signed, []*openpgp.Entity{bob}, "unknown_key"},
		{"tampered", tampered, []*openpgp.Entity{alice}, "invalid"},
		{"tampered, key unknown", tampered, []*openpgp.Entity{bob}, "unknown_key"},
		{"two signers, both known", twice, []*openpgp.Entity{alice, bob}, "verified,verified"},
		{"two signers, one known", twice, []*openpgp.Entity{bob}, "unknown_key,verified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := statuses(verify(t, tc.img, tc.keys...)); got != tc.want {
				t.Fatalf("statuses %s, want %s", got, tc.want)
			}
		})
	}
}

func fpOf(e *openpgp.Entity) string {
	var b strings.Builder
	for _, c := range e.PrimaryKey.Fingerprint {
		b.WriteString(strings.ToUpper(string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&15])))
	}
	return b.String()
}

// Keys that are no longer good make signatures invalid, not unknown.
func TestVerifyBadKeys(t *testing.T) {
	plain := image(t)
	t.Run("revoked", func(t *testing.T) {
		e := signedtest.NewEntity(t)
		signed := signedtest.Sign(t, plain, e)
		if err := e.RevokeKey(packet.KeyRetired, "retired", nil); err != nil {
			t.Fatal(err)
		}
		sigs := verify(t, signed, publicOnly(t, e))
		if statuses(sigs) != "invalid" || !strings.Contains(sigs[0].Error, "revoked") {
			t.Fatalf("%+v", sigs)
		}
	})
	t.Run("expired", func(t *testing.T) {
		e, err := openpgp.NewEntity("Old", "", "old@example.org", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA,
			Time: func() time.Time { return time.Now().Add(-48 * time.Hour) }, KeyLifetimeSecs: 3600})
		if err != nil {
			t.Fatal(err)
		}
		signed := signedtest.Sign(t, plain, e)
		sigs := verify(t, signed, publicOnly(t, e))
		if statuses(sigs) != "invalid" || !strings.Contains(sigs[0].Error, "expired") {
			t.Fatalf("%+v", sigs)
		}
	})
}

// publicOnly is e as the keyserver hands it out: serialized without its
// private key and read back.
func publicOnly(t *testing.T, e *openpgp.Entity) *openpgp.Entity {
	t.Helper()
	var b bytes.Buffer
	if err := e.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	el, err := openpgp.ReadKeyRing(&b)
	if err != nil {
		t.Fatal(err)
	}
	return el[0]
}

func TestVerifyLimits(t *testing.T) {
	e := signedtest.NewEntity(t)
	img := image(t)
	for range 5 {
		img = signedtest.Sign(t, img, e)
	}
	if got := statuses(verify(t, img, e)); got != strings.Repeat("unsupported,", 4)+"unsupported" {
		t.Fatalf("five signatures: %s", got)
	}

	// A "signature" of 1 MiB, by a held fingerprint, is not read: neither
	// is the real signature beside it in its group.
	signed := signedtest.Sign(t, image(t), e)
	big := addObject(t, signed, sif.DataSignature, bytes.Repeat([]byte("x"), 1<<20),
		sif.OptLinkedGroupID(1), sif.OptSignatureMetadata(crypto.SHA256, e.PrimaryKey.Fingerprint))
	sigs := verify(t, big, e)
	if statuses(sigs) != "unsupported,invalid" || !strings.Contains(sigs[1].Error, "larger than") {
		t.Fatalf("oversized signature: %+v", sigs)
	}

	// A legacy signature of one object is not checked.
	legacy := addObject(t, image(t), sif.DataSignature, []byte("legacy"), sif.OptLinkedID(3),
		sif.OptSignatureMetadata(crypto.SHA256, e.PrimaryKey.Fingerprint))
	if got := statuses(verify(t, legacy, e)); got != "unsupported" {
		t.Fatalf("legacy signature: %s", got)
	}
}

// addObject appends a data object to a SIF.
func addObject(t *testing.T, img []byte, dt sif.DataType, data []byte, opts ...sif.DescriptorInputOpt) []byte {
	t.Helper()
	buf := sif.NewBuffer(bytes.Clone(img))
	f, err := sif.LoadContainer(buf, sif.OptLoadWithCloseOnUnload(false))
	if err != nil {
		t.Fatal(err)
	}
	di, err := sif.NewDescriptorInput(dt, bytes.NewReader(data), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.AddObject(di); err != nil {
		t.Fatal(err)
	}
	if err := f.UnloadContainer(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestVerifyFailures(t *testing.T) {
	e := signedtest.NewEntity(t)
	signed := signedtest.Sign(t, image(t), e)
	_, err := sifverify.Verify(context.Background(), bytes.NewReader([]byte("not a SIF")), 9, nil, sifverify.Options{})
	if !errors.Is(err, sifverify.ErrMalformed) {
		t.Fatalf("garbage: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = sifverify.Verify(ctx, bytes.NewReader(signed), int64(len(signed)), openpgp.EntityList{e}, sifverify.Options{})
	if err == nil {
		t.Fatal("a cancelled check succeeded")
	}
}
