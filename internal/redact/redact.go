// Package redact hides secrets in text that is shown to people: error
// messages, logs, CLI output. Client and server both use it.
package redact

import (
	"net/url"
	"strings"
)

// URL returns raw with the password of its userinfo (user:password@)
// replaced, even when raw does not parse: a parse error would otherwise
// quote the password back.
func URL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	authority, path := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	i := strings.LastIndex(authority, "@")
	if i < 0 {
		return raw
	}
	user, _, hasPass := strings.Cut(authority[:i], ":")
	if hasPass {
		user += ":xxxxx"
	}
	return scheme + "://" + user + authority[i:] + path
}
