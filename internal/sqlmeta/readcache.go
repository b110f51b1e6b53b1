package sqlmeta

import (
	"sync"
	"sync/atomic"
)

// The read cache keeps the answers to the reads every request makes (the
// API-token lookup of an authenticated request, the account a registry
// token names, the manifest lookup of a pull) while the database has not changed since they were read, so that
// answering from memory is exactly answering from the database: a
// revocation, a deletion or a moved tag, committed by this process or by
// any other (`silo admin`), counts for the next request as it does
// without the cache. Whether the database changed is SQLite's own record,
// the WAL-index header every commit rewrites (walheader_unix.go); where
// there is none (PostgreSQL, whose other replicas write where this
// process cannot see) nothing is cached. docs/architecture.md, "Metadata
// transactions".

// walVersion is the WAL-index header as one comparable value: two reads
// that saw the same one saw the same database.
type walVersion [12]uint32

// readCache is one kind of read's answers under one walVersion. It holds
// at most cacheEntries answers and cacheBytes of them (by cost), and
// starts afresh when the database changes or it is full: every commit
// empties it, so there is nothing to evict one by one.
type readCache[K comparable, V any] struct {
	mu    sync.Mutex
	ver   walVersion
	items map[K]V
	bytes int
	cost  func(V) int // bytes an answer holds; nil: small and fixed
	hits  atomic.Int64
}

const (
	cacheEntries = 1024
	cacheBytes   = 8 << 20
	// cacheMaxItem keeps large answers (a manifest's content can be
	// 4 MiB) out of the cache: they would displace the rest.
	cacheMaxItem = 64 << 10
)

func (c *readCache[K, V]) get(v walVersion, k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ver != v {
		var zero V
		return zero, false
	}
	val, ok := c.items[k]
	if ok {
		c.hits.Add(1)
	}
	return val, ok
}

func (c *readCache[K, V]) put(v walVersion, k K, val V) {
	n := 0
	if c.cost != nil {
		if n = c.cost(val); n > cacheMaxItem {
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ver != v || c.items == nil || len(c.items) >= cacheEntries || c.bytes+n > cacheBytes {
		c.ver, c.items, c.bytes = v, make(map[K]V), 0
	}
	c.items[k] = val
	c.bytes += n
}

// cachedRead answers read from c when the database is as it was when c
// got the answer, and otherwise reads, keeping the answer when the
// database did not change while it was read (the header the same before
// and after: then the read saw exactly that version). Errors are never
// kept: a lookup of a token that does not exist always reaches the
// database, so guessing cannot fill the cache. Inside a transaction
// (whose reads must see its own writes, or its snapshot) it just reads.
func cachedRead[K comparable, V any](s *Store, c *readCache[K, V], k K, read func() (V, error)) (V, error) {
	if c == nil || s.wal == nil || s.inTx || s.readOnly {
		return read()
	}
	before, ok := s.wal.version()
	if !ok {
		return read()
	}
	if val, hit := c.get(before, k); hit {
		return val, nil
	}
	val, err := read()
	if err == nil {
		if after, ok := s.wal.version(); ok && after == before {
			c.put(before, k, val)
		}
	}
	return val, err
}
