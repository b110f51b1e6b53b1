package sregistry

import "testing"

// The header parser takes what sregistry-cli sends and what the
// reference server accepts (SR §2.2, §2.3), and nothing malformed.
func TestParseCredential(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   credential
		ok     bool
	}{
		{"SREGISTRY-HMAC-SHA256 Credential=pull/dnNvY2g=/20261201T10Z,Signature=e6e9",
			credential{"pull", "vsoch", "20261201T10Z", "e6e9"}, true},
		// Upper-case hex compares as lower-case.
		{"SREGISTRY-HMAC-SHA256 Credential=push/dnNvY2g=/20261201T10Z,Signature=E6E9",
			credential{"push", "vsoch", "20261201T10Z", "e6e9"}, true},
		// A base64 user holding "/" (a non-ASCII name): first and last "/".
		{"SREGISTRY-HMAC-SHA256 Credential=pull/w7/Dv8O/w78=/20261201T10Z,Signature=ab",
			credential{"pull", "\u00ff\u00ff\u00ff\u00ff", "20261201T10Z", "ab"}, true},
		{"SREGISTRY-HMAC-SHA256 Signature=ab,Credential=delete/YQ==/20261201T10Z",
			credential{"delete", "a", "20261201T10Z", "ab"}, true},
		{"SREGISTRY-HMAC-SHA256 Credential=pull/dnNvY2g=/20261201T10Z", credential{}, false},
		{"SREGISTRY-HMAC-SHA256 Credential=pull/20261201T10Z,Signature=ab", credential{}, false},
		{"SREGISTRY-HMAC-SHA256 Credential=pull/!!!/20261201T10Z,Signature=ab", credential{}, false},
		{"SREGISTRY-HMAC-SHA256 Credential=pull//20261201T10Z,Signature=ab", credential{}, false},
		{"SREGISTRY-HMAC-SHA1 Credential=pull/YQ==/20261201T10Z,Signature=ab", credential{}, false},
		{"Bearer x", credential{}, false},
		{"", credential{}, false},
	} {
		got, ok := parseCredential(tc.header)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%q: %+v %v, want %+v %v", tc.header, got, ok, tc.want, tc.ok)
		}
	}
}

// The secrets file is sregistry's token-page layout (SR §1).
func TestSecretsJSON(t *testing.T) {
	got := string(SecretsJSON("vsoch", "silo_sreg_k", "https://registry.example.org/"))
	want := `{
    "SREGISTRY_CLIENT": "registry",
    "registry": {
        "base": "https://registry.example.org",
        "token": "silo_sreg_k",
        "username": "vsoch"
    }
}
`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
