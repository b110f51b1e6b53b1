package credstore

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeFileAtomic replaces path with data so that a reader (or a crash)
// sees either the old file or the new one, never a half-written secret:
// a temporary file in the same directory (so rename cannot cross
// filesystems), fsync, then rename. The directory is created 0700 because
// it holds credentials. A symlinked path is followed so that a user's link
// (e.g. into a dotfiles repo) survives, as docker/cli does.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("while creating %s: %w", dir, err)
	}
	// ~/.silo holds tokens: keep it private even if something else
	// created it with a looser mode (Apptainer enforces the same). Other
	// directories (--authfile ./x) are the user's business.
	if cfg, err := ConfigDir(); err == nil && sameDir(dir, cfg) {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("while securing %s: %w", dir, err)
		}
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("while writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("while writing %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("while writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("while writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("while writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("while writing %s: %w", path, err)
	}
	return nil
}

func sameDir(a, b string) bool {
	ia, errA := os.Stat(a)
	ib, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(ia, ib)
}
