package client

import (
	"net/http"
	"reflect"
	"testing"
)

func TestParseChallenges(t *testing.T) {
	tests := []struct {
		header []string
		want   Challenge
	}{
		{[]string{`Bearer realm="https://auth.example/token",service="registry.example",scope="repository:samalba/my-app:pull,push"`},
			Challenge{"bearer", map[string]string{"realm": "https://auth.example/token", "service": "registry.example", "scope": "repository:samalba/my-app:pull,push"}}},
		{[]string{`Basic realm="basic-realm"`}, Challenge{"basic", map[string]string{"realm": "basic-realm"}}},
		{[]string{`bearer Realm=https://a/t, service="s \"q\""`}, Challenge{"bearer", map[string]string{"realm": "https://a/t", "service": `s "q"`}}},
		// Bearer is answered in preference to Basic.
		{[]string{`Basic realm="r"`, `Bearer realm="https://a/t"`}, Challenge{"bearer", map[string]string{"realm": "https://a/t"}}},
	}
	for _, tt := range tests {
		h := http.Header{"Www-Authenticate": tt.header}
		got, ok := pick(parseChallenges(h))
		if !ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %+v", tt.header, got)
		}
	}
	if _, ok := pick(parseChallenges(http.Header{})); ok {
		t.Error("no header must give no challenge")
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost:5000": true, "127.0.0.1:5000": true, "127.0.0.1": true, "[::1]:5000": true,
		"registry.localhost": true, "10.0.0.1:5000": false, "registry.example.com": false, "[2001:db8::1]:443": false,
	} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v", host, got)
		}
	}
}
