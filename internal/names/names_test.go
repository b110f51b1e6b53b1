package names

import (
	"regexp"
	"testing"
)

// The rule as the protocol notes write it; Valid must agree with it.
var rule = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

func TestValid(t *testing.T) {
	for _, s := range []string{
		"", "a", "0", "abc", "a.b", "a_b-c.d", "a..b", ".a", "a.", "-", "A", "aB", "a/b",
		"a b", "é", "a__b", "ab-", "1.2.3", "x\x00", "..", "a.-b",
	} {
		if got, want := Valid(s), rule.MatchString(s); got != want {
			t.Errorf("Valid(%q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, s := range []string{"a.b", "a..b", "A", "a-", "x_y-z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Valid(s), rule.MatchString(s); got != want {
			t.Fatalf("Valid(%q) = %v, want %v", s, got, want)
		}
	})
}
