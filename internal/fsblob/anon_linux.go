//go:build linux

package fsblob

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// openAnon creates an unnamed file in dir (O_TMPFILE, open(2)): it gets a
// name only when linked, so a session that commits in the request that
// opened it adds no entry to uploads/ and renames nothing across
// directories; its data still sits on the blobs' filesystem.
func openAnon(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, filePerm)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), dir+"/(unnamed upload)"), nil
}

// anonPath is a path that opens f's file, named or not.
func anonPath(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

// linkAnon gives f's file the name path (linkat(2) through /proc, which
// needs no privilege, unlike AT_EMPTY_PATH); it fails if path exists.
func linkAnon(f *os.File, path string) error {
	return unix.Linkat(unix.AT_FDCWD, anonPath(f), unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW)
}
