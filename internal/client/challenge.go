package client

import (
	"net/http"
	"strings"
)

// Challenge is one WWW-Authenticate challenge (RFC 7235 §4.1), e.g.
// Bearer realm="https://r/v2/token",service="r". The zero value means the
// registry asked for no authentication.
type Challenge struct {
	Scheme string            // lower case: "basic", "bearer"
	Params map[string]string // lower-case names
}

// parseChallenges reads every WWW-Authenticate header. Registries send one
// challenge per header, so a header is parsed as one scheme followed by
// comma-separated name=value or name="quoted value" parameters.
func parseChallenges(h http.Header) []Challenge {
	var out []Challenge
	for _, v := range h.Values("WWW-Authenticate") {
		v = strings.TrimSpace(v)
		scheme, rest, _ := strings.Cut(v, " ")
		if scheme == "" {
			continue
		}
		out = append(out, Challenge{Scheme: strings.ToLower(scheme), Params: parseParams(rest)})
	}
	return out
}

func parseParams(s string) map[string]string {
	params := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t,")
		name, rest, ok := strings.Cut(s, "=")
		if !ok {
			return params
		}
		value, rest := parseValue(strings.TrimLeft(rest, " \t"))
		params[strings.ToLower(strings.TrimSpace(name))] = value
		s = rest
	}
}

// parseValue reads a token or a quoted-string (with backslash escapes)
// and returns it and what follows.
func parseValue(s string) (string, string) {
	if !strings.HasPrefix(s, `"`) {
		v, rest, _ := strings.Cut(s, ",")
		return strings.TrimSpace(v), rest
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), ""
}

// pick returns the challenge to answer: Bearer if offered (it checks the
// credentials at the token endpoint), else Basic, else the first one.
func pick(cs []Challenge) (Challenge, bool) {
	for _, want := range []string{"bearer", "basic"} {
		for _, c := range cs {
			if c.Scheme == want {
				return c, true
			}
		}
	}
	if len(cs) > 0 {
		return cs[0], true
	}
	return Challenge{}, false
}
