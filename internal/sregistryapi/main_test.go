package sregistryapi_test

import (
	"os"
	"testing"

	"github.com/silo-hpc/silo/internal/pgtest"
)

// TestMain stops the PostgreSQL cluster that SILO_TEST_POSTGRES=1 starts.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
