package sqlmeta

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/metatest"
)

// TestFTSMergerKeepsOneSegmentPerLevel writes containers one transaction
// each (a segment each in containers_fts), then runs the merger's passes
// by hand: every level must end with one segment at most, searches must
// find what they found before, and a pass with nothing to merge must not
// write (it would empty the read cache every second).
func TestFTSMergerKeepsOneSegmentPerLevel(t *testing.T) {
	defer func(d time.Duration) { mergeEvery = d }(mergeEvery)
	mergeEvery = time.Hour // passes run only when the test asks
	ctx := context.Background()
	s := openTestSQLite(t, filepath.Join(t.TempDir(), "silo.db"))
	owner := metatest.MkUser(t, s, "alice")
	for i := range 40 {
		metatest.MkContainer(t, s, owner, "alice", "tools", fmt.Sprintf("samtools-%02d", i))
	}
	search := func() int {
		t.Helper()
		hits, err := s.SearchContainers(ctx, meta.SearchQuery{Text: "samtools", Viewer: meta.Viewer{Admin: true}, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return len(hits)
	}
	before := ftsSegments(t, s, "containers_fts")
	if total(before) < 8 {
		t.Fatalf("containers_fts has %v segments by level: the test wrote too little to need merging", before)
	}
	found := search()

	for i := 0; ; i++ {
		worked, err := s.merger.pass(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !worked {
			break
		}
		if i == 100 {
			t.Fatal("the merger never finished")
		}
	}
	after := ftsSegments(t, s, "containers_fts")
	t.Logf("containers_fts segments by level: %v before merging, %v after", before, after)
	for level, n := range after {
		if n > 1 {
			t.Errorf("level %d keeps %d segments after merging (%v, before %v)", level, n, after, before)
		}
	}
	if got := search(); got != found || found != 40 {
		t.Errorf("a search found %d before merging and %d after, want 40", found, got)
	}

	v, _ := s.wal.version()
	if worked, err := s.merger.pass(ctx); err != nil || worked {
		t.Fatalf("a pass with nothing to merge: worked %v, %v", worked, err)
	}
	if now, _ := s.wal.version(); now != v {
		t.Error("a pass with nothing to merge wrote to the database")
	}
}

// ftsSegments counts an FTS5 index's segments by level, read from its
// structure record (the %_data row with id 10; fts5_index.c describes the
// layout: a 4-byte cookie, then varints: levels, segments, write counter,
// and for each level its merge state, its segment count and per segment
// three varints).
func ftsSegments(t *testing.T, s *Store, table string) []int {
	t.Helper()
	var b []byte
	if err := s.db.QueryRow(`SELECT block FROM ` + table + `_data WHERE id = 10`).Scan(&b); err != nil {
		t.Fatal(err)
	}
	i := 4
	varint := func() uint64 {
		var v uint64
		for k := 0; k < 9; k++ {
			c := b[i]
			i++
			if k == 8 {
				return v<<8 | uint64(c)
			}
			v = v<<7 | uint64(c&0x7f)
			if c < 0x80 {
				break
			}
		}
		return v
	}
	levels := int(varint())
	varint() // segments
	varint() // write counter
	out := make([]int, levels)
	for l := range out {
		varint() // merge state
		out[l] = int(varint())
		for range out[l] * 3 {
			varint()
		}
	}
	return out
}

func total(levels []int) int {
	n := 0
	for _, c := range levels {
		n += c
	}
	return n
}
