// Package catalogue is the client's local image catalogue: a SQLite file
// (silo.db in the client's config directory) recording the images a user
// pulled or added, and where their files are, as sregistry-cli's database
// does (seed 004). Images are named collection/container:tag@version,
// the version being the file's sha256: pulling the same version again
// updates its entry, another version is a new entry.
package catalogue

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// FileName is the catalogue's database inside the config directory.
const FileName = "silo.db"

// Catalogue is an open catalogue.
type Catalogue struct {
	db  *sql.DB
	dir string
}

// ErrNotFound: no entry has that name.
var ErrNotFound = errors.New("not found in the local catalogue")

// Open opens (creating if needed, mode 0700 for the directory) the
// catalogue in dir and migrates it.
func Open(ctx context.Context, dir string) (*Catalogue, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, FileName)
	// Immediate transactions take the write lock up front, so two silo
	// commands recording at once wait for each other instead of failing
	// a lock upgrade.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"+
		"&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	c := &Catalogue{db: db, dir: dir}
	if err := c.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening the local catalogue %s: %w", path, err)
	}
	return c, nil
}

// Close closes the database.
func (c *Catalogue) Close() error { return c.db.Close() }

// StoragePath is where a pulled image is kept:
// <dir>/images/<collection>/<container>/<tag>@<version>.sif.
func (c *Catalogue) StoragePath(n Name) string {
	file := n.Tag
	if n.Version != "" {
		file += "@" + n.Version
	}
	return filepath.Join(c.dir, "images", n.Collection, n.Container, file+".sif")
}

// migrate applies the embedded migrations newer than the database's
// user_version, in one transaction.
func (c *Catalogue) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var have int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&have); err != nil {
		return err
	}
	latest := have
	for _, name := range names {
		n, err := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: no number", name)
		}
		if n <= have {
			continue
		}
		b, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(b)); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		latest = max(latest, n)
	}
	if latest == have {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(latest)); err != nil {
		return err
	}
	return tx.Commit()
}
