package pgpkeys

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

// Limits bound what one key submission may hold. Keys are untrusted
// input: each limit is checked on a cheap first pass over the packets,
// before any signature is verified or key material kept.
type Limits struct {
	MaxText       int // armored text, bytes (default 256 KiB)
	MaxKeys       int // keys in one submission (default 16)
	MaxUserIDs    int // user IDs per key (default 64)
	MaxUserIDLen  int // bytes per user ID (default 1,024)
	MaxSubkeys    int // subkeys per key (default 32)
	MaxSignatures int // signature packets per key (default 512)
	MinRSABits    int // smallest RSA key accepted (default 2,048)
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxText, 256<<10)
	def(&l.MaxKeys, 16)
	def(&l.MaxUserIDs, 64)
	def(&l.MaxUserIDLen, 1024)
	def(&l.MaxSubkeys, 32)
	def(&l.MaxSignatures, 512)
	def(&l.MinRSABits, 2048)
	return l
}

func invalid(format string, args ...any) error {
	return apperr.New(apperr.Invalid, "invalid key text: "+format, args...)
}

// parse reads an armored public keyring into the rows the store keeps,
// one per key, within l. now decides whether a key has expired or is
// revoked.
func parse(text string, l Limits, now time.Time) ([]meta.PGPKey, error) {
	if len(text) > l.MaxText {
		return nil, apperr.New(apperr.TooLarge, "key text of %d bytes, more than the %d accepted", len(text), l.MaxText)
	}
	block, err := armor.Decode(strings.NewReader(text))
	if err != nil {
		return nil, invalid("not an ASCII-armored OpenPGP key (%v)", err)
	}
	switch block.Type {
	case openpgp.PublicKeyType:
	case openpgp.PrivateKeyType:
		return nil, invalid("this is a private key: push the public key only (`singularity key push` does)")
	default:
		return nil, invalid("an armored %q, not a public key block", block.Type)
	}
	body, err := io.ReadAll(io.LimitReader(block.Body, int64(l.MaxText)))
	if err != nil {
		return nil, invalid("%v", err)
	}
	if err := scan(body, l); err != nil {
		return nil, err
	}
	el, err := readKeys(body)
	if err != nil {
		return nil, err
	}
	keys := make([]meta.PGPKey, 0, len(el))
	for _, e := range el {
		k, err := row(e, l, now)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// readKeys reads every key of body. A key go-crypto cannot read refuses
// the submission: its ReadKeyRing would skip that key and keep the
// others, and a submission is taken whole or not at all.
func readKeys(body []byte) (openpgp.EntityList, error) {
	packets := packet.NewReader(bytes.NewReader(body))
	var el openpgp.EntityList
	for {
		e, err := openpgp.ReadEntity(packets)
		if errors.Is(err, io.EOF) {
			return el, nil
		}
		if err != nil {
			return nil, invalid("key %d of the submission: %v", len(el)+1, err)
		}
		el = append(el, e)
	}
}

// scan counts the packets of each key, refusing what is over the limits
// or private, before the keyring is read for real.
func scan(body []byte, l Limits) error {
	r := packet.NewReader(bytes.NewReader(body))
	keys, uids, subkeys, sigs := 0, 0, 0, 0
	for {
		p, err := r.NextWithUnsupported()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return invalid("%v", err)
		}
		switch p := p.(type) {
		case *packet.UnsupportedPacket:
			// go-crypto skips what it cannot read (ReadEntity leaves out
			// a subkey of an unknown kind), but a primary key skipped
			// would leave its user IDs to the key before it.
			if pk, ok := p.IncompletePacket.(*packet.PublicKey); ok && !pk.IsSubkey {
				return invalid("a key of a kind not supported (%v)", p.Error)
			}
			continue
		case *packet.PrivateKey:
			return invalid("it holds private key material: push the public key only")
		case *packet.PublicKey:
			if !p.IsSubkey {
				keys, uids, subkeys, sigs = keys+1, 0, 0, 0
				if keys > l.MaxKeys {
					return invalid("more than %d keys in one submission", l.MaxKeys)
				}
				continue
			}
			subkeys++
		case *packet.UserId:
			uids++
			if len(p.Id) > l.MaxUserIDLen {
				return invalid("a user ID of %d bytes, more than %d", len(p.Id), l.MaxUserIDLen)
			}
		case *packet.Signature:
			sigs++
		}
		switch {
		case keys == 0:
			return invalid("it does not start with a public key")
		case uids > l.MaxUserIDs:
			return invalid("a key with more than %d user IDs", l.MaxUserIDs)
		case subkeys > l.MaxSubkeys:
			return invalid("a key with more than %d subkeys", l.MaxSubkeys)
		case sigs > l.MaxSignatures:
			return invalid("a key with more than %d signatures", l.MaxSignatures)
		}
	}
	if keys == 0 {
		return invalid("no public key in it")
	}
	return nil
}

// row makes the stored form of one key.
func row(e *openpgp.Entity, l Limits, now time.Time) (meta.PGPKey, error) {
	pk := e.PrimaryKey
	k := meta.PGPKey{Fingerprint: hexFP(pk.Fingerprint), Algorithm: int(pk.PubKeyAlgo), CreatedAt: pk.CreationTime.UTC()}
	if e.PrivateKey != nil {
		return k, invalid("it holds private key material: push the public key only")
	}
	bits, err := pk.BitLength()
	if err != nil {
		return k, invalid("key %s: %v", k.Fingerprint, err)
	}
	k.Bits = int(bits)
	if isRSA(pk.PubKeyAlgo) && k.Bits < l.MinRSABits {
		return k, invalid("key %s is RSA of %d bits, fewer than the %d accepted", k.Fingerprint, k.Bits, l.MinRSABits)
	}
	if err := weakSubkey(e, l); err != nil {
		return k, err
	}
	for name := range e.Identities {
		if !printable(name) {
			return k, invalid("key %s has a user ID with control characters or invalid UTF-8", k.Fingerprint)
		}
		k.UserIDs = append(k.UserIDs, name)
	}
	if len(k.UserIDs) == 0 {
		return k, invalid("key %s has no user ID with a valid self-signature", k.Fingerprint)
	}
	sort.Strings(k.UserIDs)
	if sig, _ := e.PrimarySelfSignature(); sig != nil && sig.KeyLifetimeSecs != nil && *sig.KeyLifetimeSecs != 0 {
		k.ExpiresAt = k.CreatedAt.Add(time.Duration(*sig.KeyLifetimeSecs) * time.Second)
	}
	k.Revoked = revoked(e, now)
	k.IDs = append(k.IDs, idOf(pk))
	for _, sk := range e.Subkeys {
		k.IDs = append(k.IDs, idOf(sk.PublicKey))
	}
	k.Armored, err = armored(e)
	return k, err
}

// weakSubkey refuses RSA subkeys under l.MinRSABits as the primary key
// is refused: a subkey may sign (go-crypto signs with a key's newest
// signing subkey) and a signature by it verifies as the key's.
func weakSubkey(e *openpgp.Entity, l Limits) error {
	for _, sk := range e.Subkeys {
		if !isRSA(sk.PublicKey.PubKeyAlgo) {
			continue
		}
		bits, err := sk.PublicKey.BitLength()
		if err != nil {
			return invalid("key %s: subkey %s: %v", hexFP(e.PrimaryKey.Fingerprint), hexFP(sk.PublicKey.Fingerprint), err)
		}
		if int(bits) < l.MinRSABits {
			return invalid("key %s: subkey %s is RSA of %d bits, fewer than the %d accepted",
				hexFP(e.PrimaryKey.Fingerprint), hexFP(sk.PublicKey.Fingerprint), bits, l.MinRSABits)
		}
	}
	return nil
}

// revoked tells whether e carries a revocation go-crypto accepted, as
// of now or of the revocation's own date if later: one made on a clock
// ahead of the server's (go-crypto reads it as not made yet) revokes the
// key all the same, since the row keeps the flag as read here.
func revoked(e *openpgp.Entity, now time.Time) bool {
	for _, r := range e.Revocations {
		if r.CreationTime.After(now) {
			now = r.CreationTime
		}
	}
	return e.Revoked(now)
}

func isRSA(a packet.PublicKeyAlgorithm) bool {
	return a == packet.PubKeyAlgoRSA || a == packet.PubKeyAlgoRSAEncryptOnly || a == packet.PubKeyAlgoRSASignOnly
}

// printable refuses user IDs that would break the stored list (one per
// line) or a terminal: control characters and invalid UTF-8.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	return strings.IndexFunc(s, unicode.IsControl) < 0
}

func idOf(pk *packet.PublicKey) meta.PGPKeyID {
	return meta.PGPKeyID{Fingerprint: hexFP(pk.Fingerprint), KeyID: strings.ToUpper(pk.KeyIdString()),
		ShortID: strings.ToUpper(pk.KeyIdShortString())}
}

func hexFP(fp []byte) string { return fmt.Sprintf("%X", fp) }

// armored is the key as the keyserver hands it out: the packets
// go-crypto kept (the public keys, user IDs, subkeys and their
// signatures), re-armored; nothing else of the submission. The same key
// always gives the same text: a copy is "unchanged" when its text is the
// one held (Service.put).
func armored(e *openpgp.Entity) (string, error) {
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		return "", apperr.Wrap(apperr.Internal, err, "armoring a key")
	}
	if err := serialize(w, e); err != nil {
		w.Close()
		return "", invalid("key %s cannot be serialized: %v", hexFP(e.PrimaryKey.Fingerprint), err)
	}
	if err := w.Close(); err != nil {
		return "", apperr.Wrap(apperr.Internal, err, "armoring a key")
	}
	return b.String(), nil
}

// serialize writes e's public packets as Entity.Serialize does, but
// with the user IDs sorted: go-crypto keeps them in a map, whose order
// changes from one call to the next, so the same key with two user IDs
// would otherwise be a different text half the time.
func serialize(w io.Writer, e *openpgp.Entity) error {
	head := *e
	head.Identities, head.Subkeys = nil, nil
	if err := head.Serialize(w); err != nil { // the primary key, its revocations and direct signatures
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(e.Identities)) {
		id := e.Identities[name]
		if err := id.UserId.Serialize(w); err != nil {
			return err
		}
		for _, sig := range id.Signatures {
			if err := sig.Serialize(w); err != nil {
				return err
			}
		}
	}
	for _, sk := range e.Subkeys {
		if err := sk.PublicKey.Serialize(w); err != nil {
			return err
		}
		for _, sig := range append(slices.Clone(sk.Revocations), sk.Sig) {
			if err := sig.Serialize(w); err != nil {
				return err
			}
		}
	}
	return nil
}

// readArmored reads a stored key back.
func readArmored(text string) (openpgp.EntityList, error) {
	return openpgp.ReadArmoredKeyRing(strings.NewReader(text))
}

// joinArmored makes one armored block of stored keys (a client reads one
// block; concatenated blocks would lose all but the first key).
func joinArmored(texts []string) (string, error) {
	var body bytes.Buffer
	for _, t := range texts {
		block, err := armor.Decode(strings.NewReader(t))
		if err == nil {
			_, err = io.Copy(&body, block.Body)
		}
		if err != nil {
			return "", apperr.Wrap(apperr.Internal, err, "reading a stored key")
		}
	}
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err == nil {
		_, err = w.Write(body.Bytes())
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return "", apperr.Wrap(apperr.Internal, err, "armoring keys")
	}
	return b.String(), nil
}
