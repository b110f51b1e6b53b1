package sifverify

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// ParseFingerprint checks a full primary-key fingerprint, as signature
// descriptors carry and policies list (40 hex digits for v4 keys, 64 for
// v6; a "0x" prefix and spaces are allowed), and returns it in upper
// case. Key IDs are refused: they are not unique.
func ParseFingerprint(s string) (string, error) {
	t := strings.TrimSpace(s)
	if len(t) >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') {
		t = t[2:]
	}
	fp := strings.ToUpper(strings.ReplaceAll(t, " ", ""))
	if _, err := hex.DecodeString(fp); err != nil || (len(fp) != 40 && len(fp) != 64) {
		return "", fmt.Errorf("invalid fingerprint %q: want the 40 (or 64) hex digits of a key's fingerprint", s)
	}
	return fp, nil
}
