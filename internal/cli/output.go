package cli

import (
	"fmt"
	"io"
)

// Messages follow Singularity's sylog conventions: a level prefix padded to
// eight characters, then a space, written to stderr.

// Out carries the streams a command writes to; tests substitute buffers.
type Out struct {
	Stdout io.Writer
	Stderr io.Writer
	Stdin  io.Reader
}

func (o *Out) Infof(format string, args ...any) {
	fmt.Fprintf(o.Stderr, "INFO:    "+format+"\n", args...)
}

func (o *Out) Warnf(format string, args ...any) {
	fmt.Fprintf(o.Stderr, "WARNING: "+format+"\n", args...)
}

// fatalPrefix is printed before the error that ends a command.
const fatalPrefix = "FATAL:   "

// ExitFatal is the exit status of a failed command, as Singularity uses.
const ExitFatal = 255
