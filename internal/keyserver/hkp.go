package keyserver

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/pgpkeys"
)

// maxAddBody bounds a /pks/add body: the service's 256 KiB of key text,
// URL-encoded (up to three bytes each).
const maxAddBody = 1 << 20

// add answers POST /pks/add (LA §8 "Add"): the armored key in the form
// field keytext, from a signed-in user. Any 2xx is success to the
// client.
func (a *API) add(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxAddBody)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return apperr.New(apperr.TooLarge, "request body larger than %d bytes", maxAddBody)
		}
		return apperr.New(apperr.Invalid, "invalid form: %v", err)
	}
	text := r.PostForm.Get("keytext")
	if text == "" {
		return apperr.New(apperr.Invalid, "no keytext in the form")
	}
	added, err := a.keys.Add(r.Context(), p, text)
	if err != nil {
		return err
	}
	type keyJSON struct {
		Fingerprint string `json:"fingerprint"`
		Replaced    bool   `json:"replaced"`
		Unchanged   bool   `json:"unchanged"`
	}
	out := make([]keyJSON, len(added))
	for i, k := range added {
		out[i] = keyJSON{k.Key.Fingerprint, k.Replaced, k.Unchanged}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"keys": out}})
	return nil
}

// lookup answers GET /pks/lookup (LA §8 "Get", "Index"): op=get returns
// the armored keys; op=index and op=vindex list them in HKP's
// machine-readable form (whatever options says: that is what
// `singularity key search` asks for and parses).
func (a *API) lookup(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	query, err := parseSearch(q.Get("search"), q.Get("exact") == "on")
	if err != nil {
		return err
	}
	switch op := q.Get("op"); op {
	case "get":
		text, err := a.keys.Get(r.Context(), query)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/pgp-keys; charset=utf-8")
		_, err = w.Write([]byte(text))
		return err
	case "index", "vindex":
		if query.Limit, query.Offset, err = page(q.Get("x-pagesize"), q.Get("x-pagetoken")); err != nil {
			return err
		}
		keys, more, err := a.keys.Index(r.Context(), query)
		if err != nil {
			return err
		}
		if more {
			w.Header().Set("X-HKP-Next-Page-Token", strconv.Itoa(query.Offset+len(keys)))
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, err = w.Write([]byte(machineReadable(keys)))
		return err
	case "":
		return apperr.New(apperr.Invalid, "missing op: want get, index or vindex")
	default:
		return apperr.New(apperr.Invalid, "unsupported op %q: want get, index or vindex", op)
	}
}

// parseSearch reads HKP's search. "0x" and hex digits name a key: 8 digits
// a 32-bit key ID, up to 16 a 64-bit key ID (left-padded: `singularity
// verify` formats IDs with %#x, which drops leading zeros, LA §8), 40 or
// 64 a fingerprint (of a primary key or a subkey). Bare 40 or 64 hex
// digits are a fingerprint too; anything else is text in user IDs.
func parseSearch(s string, exact bool) (pgpkeys.Query, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return pgpkeys.Query{}, apperr.New(apperr.Invalid, "missing search")
	}
	digits, prefixed := strings.CutPrefix(strings.ToLower(s), "0x")
	_, hexErr := hex.DecodeString(strings.Repeat("0", len(digits)%2) + digits)
	isHex := hexErr == nil && digits != ""
	switch {
	case isHex && (len(digits) == 40 || len(digits) == 64):
		return pgpkeys.Query{Fingerprint: strings.ToUpper(digits)}, nil
	case !prefixed:
		return pgpkeys.Query{Text: s, Exact: exact}, nil
	case !isHex:
		return pgpkeys.Query{}, apperr.New(apperr.Invalid, "invalid key ID %q: want hex digits after 0x", s)
	case len(digits) == 8:
		return pgpkeys.Query{ShortID: strings.ToUpper(digits)}, nil
	case len(digits) <= 16:
		return pgpkeys.Query{KeyID: strings.ToUpper(strings.Repeat("0", 16-len(digits)) + digits)}, nil
	default:
		return pgpkeys.Query{}, apperr.New(apperr.Invalid, "invalid key ID %q: want 8 or 16 hex digits, or a 40- or 64-digit fingerprint", s)
	}
}

// page reads x-pagesize (1 to pgpkeys.MaxPage, more is capped) and
// x-pagetoken (an offset this server handed out).
func page(size, token string) (limit, offset int, err error) {
	if size != "" {
		if limit, err = strconv.Atoi(size); err != nil || limit < 1 {
			return 0, 0, apperr.New(apperr.Invalid, "invalid x-pagesize %q", size)
		}
		limit = min(limit, pgpkeys.MaxPage)
	}
	if token != "" {
		if offset, err = strconv.Atoi(token); err != nil || offset < 0 {
			return 0, 0, apperr.New(apperr.Invalid, "invalid x-pagetoken %q", token)
		}
	}
	return limit, offset, nil
}

// machineReadable is HKP's index in machine-readable form, as
// `singularity key search` parses it (LA §8 "Index"): "info:1:N" with N
// exactly the number of pub lines; each pub line with all seven fields
// (fingerprint, algorithm, bits, created, expires or empty, flags); a
// uid line per user ID, escaped.
func machineReadable(keys []pgpkeys.Key) string {
	var b strings.Builder
	fmt.Fprintf(&b, "info:1:%d\n", len(keys))
	for _, k := range keys {
		created, expires := strconv.FormatInt(k.CreatedAt.Unix(), 10), ""
		if !k.ExpiresAt.IsZero() {
			expires = strconv.FormatInt(k.ExpiresAt.Unix(), 10)
		}
		flags := ""
		switch {
		case k.Revoked:
			flags = "r"
		case k.Expired:
			flags = "e"
		}
		fmt.Fprintf(&b, "pub:%s:%d:%d:%s:%s:%s\n", k.Fingerprint, k.Algorithm, k.Bits, created, expires, flags)
		for _, uid := range k.UserIDs {
			fmt.Fprintf(&b, "uid:%s:%s:%s:%s\n", escapeUID(uid), created, expires, flags)
		}
	}
	return b.String()
}

// escapeUID %-escapes what HKP's colon-separated lines cannot carry
// literally (":", "%", control and non-ASCII bytes) and "+", which the
// client's url.QueryUnescape would turn into a space.
func escapeUID(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ':' || c == '%' || c == '+' || c < 0x20 || c >= 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
