//go:build race

package cli

// raceEnabled: the race detector makes large transfers and helper
// processes slow, and they hold nothing it would check that the smaller
// tests do not.
const raceEnabled = true
