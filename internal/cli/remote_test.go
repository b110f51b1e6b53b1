package cli

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/client/clienttest"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/servertest"
)

// remoteYAML is remote.yaml with one insecure remote, laid out as the
// Singularity 4.3.3 fixture.
func remoteYAML(name, host, token string) string {
	s := "Active: " + name + "\nRemotes:\n    " + name + ":\n        URI: //" + host + "\n"
	if token != "" {
		s += "        Token: " + token + "\n"
	}
	return s + "        System: false\n        Exclusive: false\n        Insecure: true\n"
}

// addRemote runs `remote add --insecure --no-login` for a library stub.
func addRemote(t *testing.T, name string, lib *clienttest.Server) {
	t.Helper()
	runSilo(t, "", "remote", "add", "--insecure", "--no-login", name, lib.URL).expect(t, 0, fmt.Sprintf("INFO:    Remote %q added.\n", name))
}

func writeTokenFile(t *testing.T, token string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tok")
	writeFile(t, path, token+"\n")
	return path
}

func TestRemoteAddLoginStatus(t *testing.T) {
	dir := isolate(t)
	lib := startLibrary(t)
	path := filepath.Join(dir, "remote.yaml")

	addRemote(t, "DinosaurCloud", lib)
	if got := readFile(t, path); got != remoteYAML("DinosaurCloud", lib.Host, "") {
		t.Errorf("remote.yaml:\n%s", got)
	}
	assertMode(t, dir, 0o700)
	assertMode(t, path, 0o600)
	if len(lib.Requests()) != 0 {
		t.Errorf("--no-login sent requests: %q", lib.Requests())
	}

	runSilo(t, "", "remote", "login", "--tokenfile", writeTokenFile(t, libraryToken), "DinosaurCloud").
		expect(t, 0, "INFO:    Access Token Verified!\nINFO:    Token stored in "+path+"\n")
	if got := readFile(t, path); got != remoteYAML("DinosaurCloud", lib.Host, libraryToken) {
		t.Errorf("remote.yaml:\n%s", got)
	}
	assertMode(t, path, 0o600)
	want := []string{"GET /assets/config/config.prod.json", "GET /v1/token-status"}
	if got := lib.Requests(); !reflect.DeepEqual(got, want) {
		t.Errorf("login requests %q, want %q", got, want)
	}

	r := runSilo(t, "", "remote", "status", "DinosaurCloud")
	r.expect(t, 0, "INFO:    Checking status of remote: DinosaurCloud\nINFO:    Access Token Verified!\n")
	u := lib.URL
	wantOut := fmt.Sprintf("SERVICE    STATUS  VERSION    URI\nKeyserver  OK      silo-test  %s\nLibrary    OK      silo-test  %s\nToken      OK      silo-test  %s\n", u, u, u) +
		"\nLogged in as: alice <alice@example.org>\n\n\nValid authentication token set (logged in).\n"
	if r.stdout != wantOut {
		t.Errorf("status stdout:\n%s\nwant:\n%s", r.stdout, wantOut)
	}
	// Fixture order: discovery, /version per service, users/current, token-status.
	got := lib.Requests()[2:]
	versions := got[1:4]
	sort.Strings(versions)
	if got[0] != want[0] || strings.Join(versions, ",") != "GET /version,GET /version,GET /version" ||
		got[4] != "GET /v1/rbac/users/current" || got[5] != "GET /v1/token-status" || len(got) != 6 {
		t.Errorf("status requests %q", got)
	}
}

func TestRemoteLoginPrompt(t *testing.T) {
	dir := isolate(t)
	lib := startLibrary(t)
	path := filepath.Join(dir, "remote.yaml")
	addRemote(t, "Dino", lib)
	prompt := "Generate an access token at " + lib.URL + "/auth/tokens, and paste it here.\nToken entered will be hidden for security.\nAccess Token: \n"

	// No name: the active remote.
	runSilo(t, libraryToken+"\n", "remote", "login").
		expect(t, 0, prompt+"INFO:    Access Token Verified!\nINFO:    Token stored in "+path+"\n")

	// With a token set, declining the replacement changes nothing.
	before := readFile(t, path)
	runSilo(t, "n\n", "remote", "login", "Dino").expect(t, 0, "An access token is already set for this remote. Replace it? [y/N] ")
	runSilo(t, "", "remote", "login", "Dino").expect(t, 0, "An access token is already set for this remote. Replace it? [y/N] ")
	if readFile(t, path) != before {
		t.Error("declined login changed remote.yaml")
	}
	runSilo(t, "y\n"+libraryToken+"\n", "remote", "login", "Dino").expect(t, 0,
		"An access token is already set for this remote. Replace it? [y/N] "+prompt+"INFO:    Access Token Verified!\nINFO:    Token stored in "+path+"\n")

	// Entering no token ends quietly.
	runSilo(t, "", "remote", "logout").expect(t, 0, "INFO:    Logout succeeded\n")
	runSilo(t, "\n", "remote", "login", "Dino").expect(t, 0, prompt)
	if got := readFile(t, path); got != remoteYAML("Dino", lib.Host, "") {
		t.Errorf("remote.yaml:\n%s", got)
	}
}

func TestRemoteAddThenLogin(t *testing.T) {
	dir := isolate(t)
	lib := startLibrary(t)
	path := filepath.Join(dir, "remote.yaml")
	runSilo(t, "", "remote", "add", "--insecure", "--tokenfile", writeTokenFile(t, libraryToken), "Dino", lib.URL).
		expect(t, 0, "INFO:    Remote \"Dino\" added.\nINFO:    Access Token Verified!\nINFO:    Token stored in "+path+"\n")
	if got := readFile(t, path); got != remoteYAML("Dino", lib.Host, libraryToken) {
		t.Errorf("remote.yaml:\n%s", got)
	}
}

func TestRemoteLoginRejectsBadTokens(t *testing.T) {
	dir := isolate(t)
	lib := startLibrary(t)
	noToken := clienttest.NewLibrary(t, clienttest.Library{Token: libraryToken, Services: []string{"libraryAPI"}})
	addRemote(t, "Dino", lib)
	addRemote(t, "NoAuth", noToken)
	path := filepath.Join(dir, "remote.yaml")
	before := readFile(t, path)
	tests := []struct {
		name, remote, token, fatal string
	}{
		{"invalid", "Dino", clienttest.Token(241), "while verifying token: error response from server: Invalid Token"},
		{"too short", "Dino", "1eb5bc1daeca0f5a215ec242c9690209ca0b3d71", "while verifying token: token is too short (40 characters); Silo tokens are at least 200"},
		{"too long", "Dino", clienttest.Token(5000), "while verifying token: token is too long (5000 characters); Silo tokens are at most 4096"},
		{"no token service", "NoAuth", libraryToken, "while verifying token: no authentication service found"},
		{"unknown remote", "Nope", libraryToken, "Nope is not a remote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(lib.Requests())
			runSilo(t, "", "remote", "login", "--tokenfile", writeTokenFile(t, tt.token), tt.remote).expect(t, ExitFatal, "FATAL:   "+tt.fatal+"\n")
			if readFile(t, path) != before {
				t.Error("remote.yaml changed")
			}
			if strings.HasPrefix(tt.name, "too") && len(lib.Requests()) != n {
				t.Error("a token of impossible length was sent to the server")
			}
		})
	}
	runSilo(t, "", "remote", "login", "--tokenfile", filepath.Join(dir, "missing"), "Dino").expectFatal(t, "while reading tokenfile: open ")
}

func TestRemoteUseListRemove(t *testing.T) {
	dir := isolate(t)
	lib := startLibrary(t)
	addRemote(t, "Dino", lib)
	runSilo(t, "", "remote", "add", "--no-login", "--no-default", "Cloud", "https://cloud.example.org/").expect(t, 0, "INFO:    Remote \"Cloud\" added.\n")

	r := runSilo(t, "", "remote", "list")
	want := fmt.Sprintf("Cloud Services Endpoints\n========================\n\n"+
		"NAME   URI%[1]s  ACTIVE  GLOBAL  EXCLUSIVE  INSECURE\n"+
		"Cloud  cloud.example.org%[2]s  NO      NO      NO         NO\n"+
		"Dino   //%[3]s  YES     NO      NO         YES\n",
		strings.Repeat(" ", len("//"+lib.Host)-3), strings.Repeat(" ", len("//"+lib.Host)-len("cloud.example.org")), lib.Host)
	if r.code != 0 || r.stdout != want {
		t.Errorf("list:\n%s\nwant:\n%s", r.stdout, want)
	}

	runSilo(t, "", "remote", "use", "Cloud").expect(t, 0, "INFO:    Remote \"Cloud\" now in use.\n")
	runSilo(t, "", "remote", "use", "Nope").expect(t, ExitFatal, "FATAL:   Nope is not a remote\n")
	runSilo(t, "", "remote", "add", "--no-login", "Dino", "h.example").expect(t, ExitFatal, "FATAL:   Dino is already a remote\n")
	runSilo(t, "", "remote", "add", "--no-login", "Plain", "http://h.example").
		expect(t, ExitFatal, "FATAL:   http://h.example uses http: add --insecure to allow a remote without TLS\n")
	runSilo(t, "", "remote", "remove", "Cloud").expect(t, 0, "INFO:    Remote \"Cloud\" removed.\n")
	runSilo(t, "", "remote", "remove", "Cloud").expect(t, ExitFatal, "FATAL:   Cloud is not a remote\n")
	want = "Active: \"\"\nRemotes:\n    Dino:\n        URI: //" + lib.Host + "\n        System: false\n        Exclusive: false\n        Insecure: true\n"
	if got := readFile(t, filepath.Join(dir, "remote.yaml")); got != want {
		t.Errorf("remote.yaml:\n%s\nwant:\n%s", got, want)
	}
	runSilo(t, "", "remote", "status").expect(t, ExitFatal, "INFO:    Checking status of default remote.\nFATAL:   no default remote\n")
}

func TestRemoteStatusTokenStates(t *testing.T) {
	dir := isolate(t)
	lib := startLibrary(t)
	addRemote(t, "Dino", lib)
	r := runSilo(t, "", "remote", "status")
	r.expect(t, 0, "INFO:    Checking status of default remote.\n")
	if !strings.HasSuffix(r.stdout, "\nNo authentication token set (logged out).\n") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	for _, req := range lib.Requests() {
		if req == "GET /v1/rbac/users/current" || req == "GET /v1/token-status" {
			t.Errorf("status without a token sent %s", req)
		}
	}

	// A token that stopped being valid (revoked on the server).
	path := filepath.Join(dir, "remote.yaml")
	writeFile(t, path, remoteYAML("Dino", lib.Host, clienttest.Token(250)))
	r = runSilo(t, "", "remote", "status", "Dino")
	r.expect(t, ExitFatal, "INFO:    Checking status of remote: Dino\nFATAL:   error response from server: Invalid Token\n")
	if !strings.HasPrefix(r.stdout, "SERVICE ") || !strings.HasSuffix(r.stdout, "\nAuthentication token is invalid (please login again).\n") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
}

func TestRemoteStatusServiceDown(t *testing.T) {
	isolate(t)
	lib := startLibrary(t)
	addRemote(t, "Dino", lib)
	lib.Close()
	runSilo(t, "", "remote", "status", "Dino").expect(t, ExitFatal, "INFO:    Checking status of remote: Dino\n"+
		"FATAL:   while retrieving services: error making request to server: Get \""+lib.URL+"/assets/config/config.prod.json\": dial tcp "+lib.Host+": connect: connection refused\n")
}

func TestRemoteFilesUntouchedOnError(t *testing.T) {
	dir := isolate(t)
	runSilo(t, "", "remote", "login", "Nope").expect(t, ExitFatal, "FATAL:   Nope is not a remote\n")
	runSilo(t, "", "remote", "list").expect(t, 0, "")
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("config dir created without a change: %v", err)
	}
}

func TestRemoteStatusShowsUnreachableServiceAsNA(t *testing.T) {
	isolate(t)
	dead := httptest.NewServer(nil)
	dead.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/assets/config/config.prod.json":
			fmt.Fprintf(w, `{"libraryAPI":{"uri":"http://%s"},"keystoreAPI":{"uri":"%s"}}`, r.Host, dead.URL)
		case "/version":
			w.Write([]byte(`{"data":{"version":"1.2.3"}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	runSilo(t, "", "remote", "add", "--insecure", "--no-login", "Dino", srv.URL).expect(t, 0, "INFO:    Remote \"Dino\" added.\n")
	r := runSilo(t, "", "remote", "status")
	want := fmt.Sprintf("SERVICE    STATUS  VERSION  URI\n%-9s  N/A              %s\n%-9s  OK      1.2.3    %s\n\nNo authentication token set (logged out).\n",
		"Keyserver", dead.URL, "Library", srv.URL)
	if r.code != 0 || r.stdout != want {
		t.Errorf("stdout:\n%q\nwant:\n%q", r.stdout, want)
	}
}

// TestRemoteAgainstSilo runs add, login and status against the real
// in-process server with a token it issued, and a revoked one.
func TestRemoteAgainstSilo(t *testing.T) {
	dir := isolate(t)
	silo := servertest.Start(t)
	_, token := silo.User(t, "alice", meta.RoleUser)
	path := filepath.Join(dir, "remote.yaml")
	runSilo(t, "", "remote", "add", "--insecure", "--no-login", "Lab", silo.URL).expect(t, 0, "INFO:    Remote \"Lab\" added.\n")
	runSilo(t, "", "remote", "login", "--tokenfile", writeTokenFile(t, token), "Lab").
		expect(t, 0, "INFO:    Access Token Verified!\nINFO:    Token stored in "+path+"\n")
	r := runSilo(t, "", "remote", "status", "Lab")
	if r.code != 0 || !strings.Contains(r.stdout, "Library    OK") || !strings.Contains(r.stdout, "Logged in as: alice") ||
		!strings.Contains(r.stdout, "Valid authentication token set (logged in).") {
		t.Fatalf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	before := readFile(t, path)
	bad := strings.Repeat("x", 220)
	runSilo(t, "", "remote", "login", "--tokenfile", writeTokenFile(t, bad), "Lab").
		expectFatal(t, "while verifying token: error response from server: Invalid Token")
	if readFile(t, path) != before {
		t.Fatal("a rejected token changed remote.yaml")
	}
}
