//go:build !linux

package fsblob

import (
	"errors"
	"os"
)

// Unnamed files are a Linux feature; elsewhere every session is a named
// file from the start.
func openAnon(string) (*os.File, error) { return nil, errors.ErrUnsupported }
func anonPath(*os.File) string          { return "" }
func linkAnon(*os.File, string) error   { return errors.ErrUnsupported }
