package sqlmeta

import (
	"os"

	"github.com/silo-hpc/silo/internal/apperr"
)

// lockFile takes an exclusive (or shared) lock on path without waiting:
// ok is false when it is held otherwise. The lock is the open file's, so
// it also keeps two users within one process apart, and it ends with the
// process. tryLock is the system's call (lockfile_unix.go,
// lockfile_windows.go).
func lockFile(path string, exclusive bool) (func(), bool, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false, apperr.Wrap(apperr.Internal, err, "collector lock")
	}
	ok, err := tryLock(f, exclusive)
	if err != nil || !ok {
		f.Close()
		if err != nil {
			return nil, false, apperr.Wrap(apperr.Internal, err, "collector lock")
		}
		return nil, false, nil
	}
	return func() { f.Close() }, true, nil
}
