// Command docker-credential-silotest is a credential helper for tests. It
// speaks the docker-credential-helpers protocol and keeps its credentials in
// the JSON file named by $SILOTEST_CREDS_FILE ({"<server>": {"Username",
// "Secret"}}), so a test can look inside. It appends each action to
// $SILOTEST_CREDS_FILE.log so tests can see that the helper really ran.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

type creds struct {
	ServerURL string `json:",omitempty"`
	Username  string
	Secret    string
}

const notFound = "credentials not found in native keychain"

func main() {
	if len(os.Args) != 2 {
		fail("usage: docker-credential-silotest store|get|erase|list|version")
	}
	path := os.Getenv("SILOTEST_CREDS_FILE")
	if path == "" {
		fail("SILOTEST_CREDS_FILE is not set")
	}
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err.Error())
	}
	logAction(path, os.Args[1])
	db := load(path)
	switch os.Args[1] {
	case "store":
		var c creds
		if err := json.Unmarshal(in, &c); err != nil {
			fail(err.Error())
		}
		if c.ServerURL == "" {
			fail("no credentials server URL")
		}
		if c.Username == "" {
			fail("no credentials username")
		}
		db[c.ServerURL] = creds{Username: c.Username, Secret: c.Secret}
		save(path, db)
	case "get":
		url := strings.TrimSpace(string(in))
		c, ok := db[url]
		if !ok {
			fail(notFound)
		}
		c.ServerURL = url
		out, _ := json.Marshal(c)
		os.Stdout.Write(out)
	case "erase":
		url := strings.TrimSpace(string(in))
		if _, ok := db[url]; !ok {
			fail(notFound)
		}
		delete(db, url)
		save(path, db)
	case "list":
		m := map[string]string{}
		for url, c := range db {
			m[url] = c.Username
		}
		out, _ := json.Marshal(m)
		os.Stdout.Write(out)
	case "version":
		fmt.Println("silotest 1.0")
	default:
		fail("unknown action " + os.Args[1])
	}
}

func load(path string) map[string]creds {
	db := map[string]creds{}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return db
	}
	if err != nil {
		fail(err.Error())
	}
	if err := json.Unmarshal(data, &db); err != nil {
		fail(err.Error())
	}
	return db
}

func save(path string, db map[string]creds) {
	data, _ := json.Marshal(db)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		fail(err.Error())
	}
}

func logAction(path, action string) {
	f, err := os.OpenFile(path+".log", os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		fail(err.Error())
	}
	defer f.Close()
	fmt.Fprintln(f, action)
}

// fail follows the protocol: the message on stdout, exit status 1.
func fail(msg string) {
	fmt.Println(msg)
	os.Exit(1)
}
