package monitor

import (
	"encoding/json"
	"sync"

	"github.com/batchd/batchd/pkg/batch"
)

// recordCache keeps the records this monitor wrote last (encoded, with
// their revision), so that the next fact of a job (the next step of its
// lifecycle follows within seconds) starts from it instead of reading the
// record again. The monitor is the records' only writer, but not the only
// process that writes them: another replica, the array tally of a parent,
// the history sweep. So a cached record is only a guess: the write is a
// compare-and-set on its revision (a stale one fails and the record is
// read), and a fact that does not apply to the cached record is tried
// again on the stored one before it is dropped.
type recordCache struct {
	mu      sync.Mutex
	entries map[string]cachedRecord
	max     int
}

type cachedRecord struct {
	rev  uint64
	data []byte
}

// defaultCachedRecords bounds the cache (a few KB a record).
const defaultCachedRecords = 20000

func newRecordCache(max int) *recordCache {
	return &recordCache{entries: map[string]cachedRecord{}, max: max}
}

// get decodes the cached record of key into job.
func (c *recordCache) get(key string, job *batch.JobDetail) (uint64, bool) {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if !ok || json.Unmarshal(e.data, job) != nil {
		return 0, false
	}
	return e.rev, true
}

// put remembers the record written at rev; a final record is forgotten
// (its job has no more lifecycle facts).
func (c *recordCache) put(key string, rev uint64, status batch.JobStatus, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if status.Final() {
		delete(c.entries, key)
		return
	}
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		// Full: forget about half, in map order (no order to keep).
		n := 0
		for k := range c.entries {
			delete(c.entries, k)
			if n++; n >= c.max/2 {
				break
			}
		}
	}
	c.entries[key] = cachedRecord{rev: rev, data: data}
}

// forget drops key (its cached revision proved stale).
func (c *recordCache) forget(key string) {
	c.mu.Lock()
	delete(c.entries, key)
	c.mu.Unlock()
}
