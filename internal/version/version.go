// Package version holds the build version, set with -ldflags at release.
package version

// Version is overridden at build time: -ldflags "-X github.com/silo-hpc/silo/internal/version.Version=1.2.3".
var Version = "0.1.0-dev"

// LibraryAPIVersion is the Sylabs Library API level Silo speaks; clients
// enable v2 uploads and per-architecture tags from 2.0.0-alpha.2.
const LibraryAPIVersion = "2.0.0-alpha.2"
