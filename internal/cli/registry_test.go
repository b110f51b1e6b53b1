package cli

import (
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/client/clienttest"
	"github.com/silo-hpc/silo/internal/credstore/credstoretest"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func plaintextWarningFor(path string) string { return fmt.Sprintf(plaintextWarning, path) }

// authJSON is the file docker/cli (and so Singularity) writes for one login.
func authJSON(host, user, pass string) string {
	return "{\n\t\"auths\": {\n\t\t\"" + host + "\": {\n\t\t\t\"auth\": \"" +
		b64(user+":"+pass) + "\"\n\t\t}\n\t}\n}"
}

// registryListOutput is what `registry list` prints for these URIs.
func registryListOutput(uris map[string]string) string {
	w := len("URI")
	for u := range uris {
		w = max(w, len(u))
	}
	s := fmt.Sprintf("\n%-*s  SECURE?\n", w, "URI")
	for u, secure := range uris {
		s += fmt.Sprintf("%-*s  %s\n", w, u, secure)
	}
	return s + "\n"
}

const noRegistries = "\n(no registries with stored login information found)\n\n"

func TestRegistryLoginListLogout(t *testing.T) {
	for _, tg := range registryTargets(t) {
		t.Run(tg.name, func(t *testing.T) {
			dir := isolate(t)
			authFile := filepath.Join(dir, "docker-config.json")
			uri := "docker://" + tg.host

			r := runSilo(t, tg.pass+"\n", "registry", "login", "--username", tg.user, "--password-stdin", uri)
			r.expect(t, 0, plaintextWarningFor(authFile)+"INFO:    Token stored in "+authFile+"\n")
			if got := readFile(t, authFile); got != authJSON(tg.host, tg.user, tg.pass) {
				t.Errorf("auth file:\n%s", got)
			}
			assertMode(t, dir, 0o700)
			assertMode(t, authFile, 0o600)
			remoteYAML := filepath.Join(dir, "remote.yaml")
			wantYAML := "Active: \"\"\nRemotes: {}\nCredentials:\n    - URI: " + uri + "\n      Insecure: false\n"
			if got := readFile(t, remoteYAML); got != wantYAML {
				t.Errorf("remote.yaml:\n%s\nwant:\n%s", got, wantYAML)
			}
			assertMode(t, remoteYAML, 0o600)

			// Logging in again is not an error, and records the URI once.
			r = runSilo(t, "", "registry", "login", "-u", tg.user, "-p", tg.pass, uri)
			r.expect(t, 0, plaintextWarningFor(authFile)+"INFO:    Token stored in "+authFile+"\n")
			if got := readFile(t, remoteYAML); got != wantYAML {
				t.Errorf("remote.yaml after second login:\n%s", got)
			}

			r = runSilo(t, "", "registry", "list")
			r.expect(t, 0, "")
			if want := registryListOutput(map[string]string{uri: "✓"}); r.stdout != want {
				t.Errorf("list:\n%q\nwant:\n%q", r.stdout, want)
			}

			r = runSilo(t, "", "registry", "logout", uri)
			r.expect(t, 0, "INFO:    Token removed from "+authFile+"\nINFO:    Logout succeeded\n")
			if got, want := readFile(t, authFile), readFile(t, filepath.Join(fixtureDir, "docker-config.after-logout.json")); got != want {
				t.Errorf("after logout:\n%q\nwant:\n%q", got, want)
			}
			assertMode(t, authFile, 0o600)
			if r := runSilo(t, "", "registry", "list"); r.stdout != noRegistries {
				t.Errorf("list after logout: %q", r.stdout)
			}

			r = runSilo(t, "", "registry", "logout", uri)
			r.expect(t, 0, "WARNING: There is no existing login to registry \""+tg.host+"\".\nINFO:    Logout succeeded\n")
		})
	}
}

func TestRegistryLoginPrompt(t *testing.T) {
	tg := registryTargets(t)[1]
	dir := isolate(t)
	authFile := filepath.Join(dir, "docker-config.json")
	r := runSilo(t, tg.pass+"\r\n", "registry", "login", "-u", tg.user, "oras://"+tg.host)
	r.expect(t, 0, "Password / Token: \n"+plaintextWarningFor(authFile)+"INFO:    Token stored in "+authFile+"\n")
	if got := readFile(t, authFile); got != authJSON(tg.host, tg.user, tg.pass) {
		t.Errorf("auth file:\n%s", got)
	}
	// SILO_LOGIN_USERNAME stands in for -u.
	t.Setenv("SILO_LOGIN_USERNAME", tg.user)
	runSilo(t, tg.pass, "registry", "login", "--password-stdin", "oras://"+tg.host).expect(t, 0,
		plaintextWarningFor(authFile)+"INFO:    Token stored in "+authFile+"\n")
}

// A wrong password never writes or changes a file.
func TestRegistryLoginWrongPassword(t *testing.T) {
	for _, tg := range registryTargets(t) {
		t.Run(tg.name, func(t *testing.T) {
			dir := isolate(t)
			uri := "docker://" + tg.host
			want := "while login to " + uri + ": invalid username or password (401 Unauthorized from http://" + tg.host + tg.checkPath + ")\n"

			runSilo(t, "nope", "registry", "login", "-u", tg.user, "--password-stdin", uri).expect(t, ExitFatal, "FATAL:   "+want)
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("config dir created by a failed login: %v", err)
			}

			runSilo(t, tg.pass, "registry", "login", "-u", tg.user, "--password-stdin", uri).expect(t, 0,
				plaintextWarningFor(filepath.Join(dir, "docker-config.json"))+"INFO:    Token stored in "+filepath.Join(dir, "docker-config.json")+"\n")
			before := snapshot(t, dir)
			runSilo(t, "nope", "registry", "login", "-u", tg.user, "--password-stdin", uri).expect(t, ExitFatal, "FATAL:   "+want)
			if after := snapshot(t, dir); after != before {
				t.Errorf("files changed:\n%s\nwas:\n%s", after, before)
			}
		})
	}
}

// snapshot lists every file of dir with its mode and content.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v\n", p, fi.Mode())
		if !fi.IsDir() {
			b.WriteString(readFile(t, p) + "\n")
		}
		return nil
	})
	return b.String()
}

func TestRegistryLoginErrors(t *testing.T) {
	tg := registryTargets(t)[0]
	closed := httptest.NewServer(nil)
	closedHost := strings.TrimPrefix(closed.URL, "http://")
	closed.Close()
	tlsReg := clienttest.NewBasicRegistry(t, testUser, testPass, clienttest.TLS())
	tests := []struct {
		name  string
		stdin string
		args  []string
		fatal string // the FATAL line (prefix when partial)
		exact bool
	}{
		{"unknown transport", "", []string{"-u", "u", "-p", "p", "ftp://127.0.0.1:15077"},
			"while login to ftp://127.0.0.1:15077: ftp transport is not supported", true},
		{"path after host", "", []string{"-u", "u", "-p", "p", "oras://127.0.0.1:15077/"},
			"while login to oras://127.0.0.1:15077/: registries must be valid RFC 3986 URI authorities: 127.0.0.1:15077/", true},
		{"no transport", "", []string{"-u", "u", "-p", "p", "127.0.0.1:15077"},
			`while login to 127.0.0.1:15077: no transport in "127.0.0.1:15077": use docker://HOST[:PORT] or oras://HOST[:PORT]`, true},
		{"missing username", "", []string{"-p", "p", "docker://" + tg.host},
			"while login to docker://" + tg.host + ": Docker/OCI registry requires a username", true},
		{"empty password", "\n", []string{"-u", "u", "docker://" + tg.host},
			"while login to docker://" + tg.host + ": a password is required", false},
		{"both password flags", "p", []string{"-u", "u", "-p", "p", "--password-stdin", "docker://" + tg.host},
			"while login to docker://" + tg.host + ": --password and --password-stdin are mutually exclusive", true},
		{"unreachable", "", []string{"-u", "u", "-p", "p", "docker://" + closedHost},
			"while login to docker://" + closedHost + ": Get \"https://" + closedHost + "/v2/\": dial tcp " + closedHost + ": connect: connection refused", true},
		{"untrusted certificate", "", []string{"-u", testUser, "-p", testPass, "docker://" + tlsReg.Host},
			"while login to docker://" + tlsReg.Host + ": Get \"https://" + tlsReg.Host + "/v2/\": tls: failed to verify certificate: x509: certificate signed by unknown authority", true},
		{"missing credential helper", "", []string{"-u", "u", "-p", "p", "--creds-store", "absent-helper", "docker://" + tg.host},
			"while login to docker://" + tg.host + ": credential helper docker-credential-absent-helper: exec: \"docker-credential-absent-helper\"", false},
		{"no argument", "", nil, "accepts 1 arg(s), received 0", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := isolate(t)
			r := runSilo(t, tt.stdin, append([]string{"registry", "login"}, tt.args...)...)
			if tt.exact {
				r.expect(t, ExitFatal, "FATAL:   "+tt.fatal+"\n")
			} else {
				// The prompt, if any, goes first; the last line is FATAL.
				lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
				siloRun{code: r.code, stderr: lines[len(lines)-1] + "\n"}.expectFatal(t, tt.fatal)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("a failed login created %s", dir)
			}
		})
	}
}

func TestRegistryLogoutErrors(t *testing.T) {
	isolate(t)
	runSilo(t, "", "registry", "logout", "ftp://h").expect(t, ExitFatal, "FATAL:   while logout from ftp://h: ftp transport is not supported\n")
	runSilo(t, "", "registry", "logout").expect(t, ExitFatal, "FATAL:   accepts 1 arg(s), received 0\n")
}

func TestRegistryAuthFile(t *testing.T) {
	tg := registryTargets(t)[1]
	dir := isolate(t)
	work := t.TempDir()
	t.Chdir(work)
	uri := "docker://" + tg.host

	runSilo(t, tg.pass, "registry", "login", "--authfile", "./myauthfile", "-u", tg.user, "--password-stdin", uri).
		expect(t, 0, plaintextWarningFor("./myauthfile")+"INFO:    Token stored in ./myauthfile\n")
	assertMode(t, filepath.Join(work, "myauthfile"), 0o600)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("--authfile login touched the config dir: %v", err)
	}
	runSilo(t, "", "registry", "list").expect(t, 0, "")

	// SILO_AUTHFILE is --authfile.
	t.Setenv("SILO_AUTHFILE", filepath.Join(work, "envfile"))
	runSilo(t, tg.pass, "registry", "login", "-u", tg.user, "--password-stdin", uri).
		expect(t, 0, plaintextWarningFor(filepath.Join(work, "envfile"))+"INFO:    Token stored in "+filepath.Join(work, "envfile")+"\n")
	runSilo(t, "", "registry", "logout", uri).
		expect(t, 0, "INFO:    Token removed from "+filepath.Join(work, "envfile")+"\nINFO:    Logout succeeded\n")
	os.Unsetenv("SILO_AUTHFILE")
	runSilo(t, "", "registry", "logout", "--authfile", "./myauthfile", uri).
		expect(t, 0, "INFO:    Token removed from ./myauthfile\nINFO:    Logout succeeded\n")
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("--authfile logout touched the config dir: %v", err)
	}
}

// The docker-config.json real Singularity wrote works as --authfile.
func TestRegistryLogoutSingularityFixture(t *testing.T) {
	isolate(t)
	path := filepath.Join(t.TempDir(), "docker-config.json")
	writeFile(t, path, readFile(t, filepath.Join(fixtureDir, "docker-config.after-login.json")))
	runSilo(t, "", "registry", "logout", "--authfile", path, "docker://127.0.0.1:15077").
		expect(t, 0, "INFO:    Token removed from "+path+"\nINFO:    Logout succeeded\n")
	if got, want := readFile(t, path), readFile(t, filepath.Join(fixtureDir, "docker-config.after-logout.json")); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRegistryLoginKeepsUnknownKeys(t *testing.T) {
	tg := registryTargets(t)[0]
	dir := isolate(t)
	authFile := filepath.Join(dir, "docker-config.json")
	writeFile(t, authFile, `{"auths":{"`+tg.host+`":{"auth":"b2xkOm9sZA==","email":"e@x"},"keep.example":{"auth":"azprZWVw"}},"psFormat":"x","x-other-tool":{"a":[1]}}`)
	runSilo(t, tg.pass, "registry", "login", "-u", tg.user, "--password-stdin", "docker://"+tg.host).
		expect(t, 0, plaintextWarningFor(authFile)+"INFO:    Token stored in "+authFile+"\n")
	want := "{\n\t\"auths\": {\n\t\t\"" + tg.host + "\": {\n\t\t\t\"auth\": \"" + b64(tg.user+":"+tg.pass) + "\",\n\t\t\t\"email\": \"e@x\"\n\t\t},\n" +
		"\t\t\"keep.example\": {\n\t\t\t\"auth\": \"azprZWVw\"\n\t\t}\n\t},\n\t\"psFormat\": \"x\",\n\t\"x-other-tool\": {\n\t\t\"a\": [\n\t\t\t1\n\t\t]\n\t}\n}"
	if got := readFile(t, authFile); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestRegistryInsecureLogin(t *testing.T) {
	tg := registryTargets(t)[0]
	dir := isolate(t)
	uri := "oras://" + tg.host
	runSilo(t, tg.pass, "registry", "login", "--insecure", "-u", tg.user, "--password-stdin", uri).
		expect(t, 0, plaintextWarningFor(filepath.Join(dir, "docker-config.json"))+"INFO:    Token stored in "+filepath.Join(dir, "docker-config.json")+"\n")
	if r := runSilo(t, "", "registry", "list"); r.stdout != registryListOutput(map[string]string{uri: "✗!"}) {
		t.Errorf("list:\n%s", r.stdout)
	}
}

func TestRegistryCredentialHelper(t *testing.T) {
	tg := registryTargets(t)[1]
	creds := credstoretest.InstallHelper(t)
	dir := isolate(t)
	authFile := filepath.Join(dir, "docker-config.json")
	uri := "docker://" + tg.host

	runSilo(t, tg.pass, "registry", "login", "--creds-store", credstoretest.HelperName, "-u", tg.user, "--password-stdin", uri).
		expect(t, 0, "INFO:    Token stored in docker-credential-silotest (recorded in "+authFile+")\n")
	want := "{\n\t\"auths\": {\n\t\t\"" + tg.host + "\": {}\n\t},\n\t\"credHelpers\": {\n\t\t\"" + tg.host + "\": \"silotest\"\n\t}\n}"
	if got := readFile(t, authFile); got != want {
		t.Errorf("auth file:\n%s\nwant:\n%s", got, want)
	}
	if got := credstoretest.Stored(t, creds)[tg.host]; got != (credstoretest.Creds{Username: tg.user, Secret: tg.pass}) {
		t.Errorf("helper holds %+v", got)
	}
	// The next login goes to the helper without the flag.
	runSilo(t, tg.pass, "registry", "login", "-u", tg.user, "--password-stdin", uri).
		expect(t, 0, "INFO:    Token stored in docker-credential-silotest (recorded in "+authFile+")\n")

	runSilo(t, "", "registry", "logout", uri).expect(t, 0, "INFO:    Token removed from "+authFile+"\nINFO:    Logout succeeded\n")
	if len(credstoretest.Stored(t, creds)) != 0 {
		t.Errorf("helper still holds %v", credstoretest.Stored(t, creds))
	}
	if got := strings.Join(credstoretest.Actions(t, creds), ","); got != "store,store,get,erase" {
		t.Errorf("helper actions %s", got)
	}
	// A wrong password reaches neither the helper nor the file.
	before := readFile(t, authFile)
	runSilo(t, "bad", "registry", "login", "-u", tg.user, "--password-stdin", uri).expectFatal(t, "while login to "+uri+": invalid username or password")
	if readFile(t, authFile) != before || strings.Count(strings.Join(credstoretest.Actions(t, creds), ","), "store") != 2 {
		t.Error("a failed login changed the file or the helper")
	}
}

// A password typed into the URI is refused, and never echoed back in the
// FATAL line (terminal scrollback, CI logs).
func TestRegistryURIPasswordNotEchoed(t *testing.T) {
	const secret = "s3cr3tpw"
	for _, uri := range []string{
		"docker://me:" + secret + "@127.0.0.1:15077",
		"oras://me:" + secret + "@127.0.0.1:notaport",
		"docker://me:" + secret + "%zz@127.0.0.1:15077",
	} {
		for _, cmd := range [][]string{
			{"registry", "login", "-u", "u", "-p", "p", uri},
			{"registry", "logout", uri},
		} {
			isolate(t)
			r := runSilo(t, "", cmd...)
			if r.code != ExitFatal {
				t.Errorf("%v: exit %d", cmd, r.code)
			}
			if strings.Contains(r.stderr+r.stdout, secret) {
				t.Errorf("%v: password echoed:\n%s", cmd[:2], r.stderr)
			}
		}
	}
}
