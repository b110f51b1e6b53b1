//go:build unix

package sqlmeta

import (
	"errors"
	"os"
	"syscall"

	"github.com/silo-hpc/silo/internal/apperr"
)

// lockFile takes an exclusive (or shared) lock on path without waiting:
// ok is false when it is held otherwise. The lock is the open file's, so
// it also keeps two users within one process apart, and it ends with the
// process.
func lockFile(path string, exclusive bool) (func(), bool, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false, apperr.Wrap(apperr.Internal, err, "collector lock")
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, apperr.Wrap(apperr.Internal, err, "collector lock")
	}
	return func() { f.Close() }, true, nil
}
