package sqlmeta

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"

	"github.com/silo-hpc/silo/internal/apperr"
)

// lockFile is lockfile_unix.go's, with LockFileEx: the lock is the open
// handle's and ends with it (or the process).
func lockFile(path string, exclusive bool) (func(), bool, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false, apperr.Wrap(apperr.Internal, err, "collector lock")
	}
	flags := uint32(windows.LOCKFILE_FAIL_IMMEDIATELY)
	if exclusive {
		flags |= windows.LOCKFILE_EXCLUSIVE_LOCK
	}
	if err := windows.LockFileEx(windows.Handle(f.Fd()), flags, 0, 1, 0, new(windows.Overlapped)); err != nil {
		f.Close()
		if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
			return nil, false, nil
		}
		return nil, false, apperr.Wrap(apperr.Internal, err, "collector lock")
	}
	return func() { f.Close() }, true, nil
}
