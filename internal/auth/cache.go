package auth

import (
	"sync"
	"sync/atomic"
	"time"
)

// cacheTTL bounds how long a credential check is reused. Within one
// process every revocation, expiry or disabled account empties the cache
// at once (invalidate); the TTL bounds how long another replica, which
// cannot see this one's invalidation, may keep answering from its cache.
const cacheTTL = time.Second

// cacheMax bounds the cache: lookups of random strings (guessed tokens)
// must not grow it without bound. A full cache is emptied, which only
// costs database lookups.
const cacheMax = 8192

// cache remembers recent credential checks. Registry clients send a
// request per blob and manifest, each with the same credentials, so a
// check that took two queries is then a map lookup.
type cache struct {
	mu      sync.Mutex
	entries map[string]cacheEntry
	gen     atomic.Uint64
}

type cacheEntry struct {
	principal Principal
	err       error
	gen       uint64
	until     time.Time
}

func newCache() *cache { return &cache{entries: map[string]cacheEntry{}} }

// generation is read before a lookup whose answer will be put: an
// invalidation in between makes that answer unusable.
func (c *cache) generation() uint64 { return c.gen.Load() }

func (c *cache) get(key string, now time.Time) (cacheEntry, bool) {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if !ok || e.gen != c.gen.Load() || !now.Before(e.until) {
		return cacheEntry{}, false
	}
	return e, true
}

func (c *cache) put(key string, gen uint64, now time.Time, p Principal, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= cacheMax {
		clear(c.entries)
	}
	c.entries[key] = cacheEntry{principal: p, err: err, gen: gen, until: now.Add(cacheTTL)}
}

// invalidate makes every cached answer stale.
func (c *cache) invalidate() {
	c.gen.Add(1)
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}
