// Command silo is the Silo registry server and its client.
package main

import (
	"os"

	"github.com/silo-hpc/silo/internal/cli"
)

func main() {
	os.Exit(cli.Execute(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
