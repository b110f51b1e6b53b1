// Package cli builds Silo's cobra command tree: the client commands a user
// types on a login node and the server's serve/admin commands.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/version"
)

// Execute runs the command line and returns the process exit status.
func Execute(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	out := &Out{Stdout: stdout, Stderr: stderr, Stdin: stdin}
	root := NewRoot(out)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		var ex *exitError
		if errors.As(err, &ex) {
			return ex.code
		}
		fmt.Fprintln(stderr, fatalPrefix+oneLine(fatalText(err)))
		return ExitFatal
	}
	return 0
}

// exitError ends a command with a status and no further message (the
// command has printed what it needed to).
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// fatalText is what a FATAL line says of err. A service's "not found" and
// "already exists" are complete sentences, and what they wrap is the
// store's own wording (a driver's constraint text, sql.ErrNoRows): the
// message alone, as the HTTP transports answer. Anything else in full,
// causes included, for whoever has to fix it.
func fatalText(err error) string {
	if apperr.Is(err, apperr.NotFound) || apperr.Is(err, apperr.Conflict) {
		return apperr.MessageOf(err)
	}
	return err.Error()
}

// oneLine keeps a FATAL message on one line, as scripts grep for it.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// NewRoot returns the root `silo` command.
func NewRoot(out *Out) *cobra.Command {
	root := &cobra.Command{
		Use:           "silo",
		Short:         "Silo: a container registry for Singularity/Apptainer, and its client",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newVersionCmd(out))
	for _, add := range commandSets {
		root.AddCommand(add(out)...)
	}
	return root
}

// commandSets lets each file of this package register its commands from
// init, so client and server command files stay independent.
var commandSets []func(*Out) []*cobra.Command

func register(f func(*Out) []*cobra.Command) { commandSets = append(commandSets, f) }

func newVersionCmd(out *Out) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print Silo's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(out.Stdout, version.Version)
			return nil
		},
	}
}

// stdinIsTerminal is replaced in tests.
var stdinIsTerminal = func() bool {
	fi, err := os.Stdin.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
