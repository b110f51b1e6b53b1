// Package keyservertest drives Silo's keyserver the way Singularity does:
// scs-key-client with Singularity's own transport (the remote's token as
// a Bearer header, LA §8), keys armored as `singularity key push`
// armors them (internal/pkg/sypgp PushPubkey, serializeEntity).
package keyservertest

import (
	"bytes"
	"context"
	mrand "math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/sylabs/scs-key-client/client"

	"github.com/silo-hpc/silo/internal/sifinspect/sifinspecttest"
	"github.com/silo-hpc/silo/internal/sifinspect/signedtest"
)

// NewEntity makes an OpenPGP key pair (EdDSA: quick to generate).
func NewEntity(t testing.TB, name, email string) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", email, &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA,
		Time: func() time.Time { return time.Now().Add(-time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Armored is e's public key as `singularity key push` sends it.
func Armored(t testing.TB, e *openpgp.Entity) string {
	t.Helper()
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// bearer is Singularity's keyserver transport: it drops any
// Authorization and sets the remote's token (endpoint/keyserver.go).
type bearer struct{ token string }

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Del("Authorization")
	if b.token != "" {
		req.Header.Set("Authorization", "Bearer "+b.token)
	}
	return http.DefaultTransport.RoundTrip(req)
}

// Transport is the keyserver transport Singularity and Apptainer both use
// (their endpoint/keyserver.go): it sets the remote's token as a bearer
// token ("" for none) in place of whatever the key client set.
func Transport(token string) http.RoundTripper { return bearer{token} }

// Client is scs-key-client for baseURL (the keystoreAPI URI) with token
// ("" for none).
func Client(t testing.TB, baseURL, token string) *client.Client {
	t.Helper()
	c, err := client.NewClient(client.OptBaseURL(baseURL), client.OptUserAgent("singularity/4.3.3"),
		client.OptHTTPClient(&http.Client{Transport: bearer{token}, Timeout: 5 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Push pushes e's public key as `singularity key push` does.
func Push(t testing.TB, baseURL, token string, e *openpgp.Entity) {
	t.Helper()
	if err := Client(t, baseURL, token).PKSAdd(context.Background(), Armored(t, e)); err != nil {
		t.Fatalf("pushing key %X: %v", e.PrimaryKey.Fingerprint, err)
	}
}

// SIF is a SIF whose primary partition is 64 KiB of bytes drawn from
// seed, signed by each of signers as `singularity sign` signs; tamper
// flips a byte of the partition after signing.
func SIF(t testing.TB, seed uint64, tamper bool, signers ...*openpgp.Entity) []byte {
	t.Helper()
	part := make([]byte, 64<<10)
	r := mrand.New(mrand.NewPCG(seed, 7))
	for i := range part {
		part[i] = byte(r.Uint32())
	}
	img := sifinspecttest.SIF(t, part, sifinspecttest.SIFOptions{Deffile: "Bootstrap: scratch\n"})
	for _, e := range signers {
		img = signedtest.Sign(t, img, e)
	}
	if tamper {
		img[len(img)/2] ^= 1
	}
	return img
}

// ArmorBytes armors b as an OpenPGP block of type typ (hostile
// submissions: private keys, garbage, keyrings built by hand).
func ArmorBytes(t testing.TB, typ string, b []byte) string {
	t.Helper()
	var out bytes.Buffer
	w, err := armor.Encode(&out, typ, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}
