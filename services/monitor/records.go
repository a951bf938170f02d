package monitor

import (
	"sync"

	"github.com/batchd/batchd/pkg/batch"
)

// recordCache keeps the records this monitor wrote last (decoded, with
// their revision), so that the next fact of a job (the next step of its
// lifecycle follows within seconds) starts from it instead of reading and
// decoding the record again. The monitor is the records' only writer, but
// not the only process that writes them: another replica, the array tally
// of a parent, the history sweep. So a cached record is only a guess: the
// write is a compare-and-set on its revision (a stale one fails and the
// record is read), and a fact that does not apply to the cached record is
// tried again on the stored one before it is dropped.
//
// An entry is taken out by the fact that uses it (take) and put back by
// the write that follows, so a record is never shared between two facts:
// the facts of one job are applied one after the other (the consume loop's
// workers are keyed by job), and a fact that takes no entry reads the
// stored record.
type recordCache struct {
	mu      sync.Mutex
	entries map[string]cachedRecord
	max     int
}

type cachedRecord struct {
	rev uint64
	job *batch.JobDetail
}

// defaultCachedRecords bounds the cache (a few KB a record).
const defaultCachedRecords = 20000

func newRecordCache(max int) *recordCache {
	return &recordCache{entries: map[string]cachedRecord{}, max: max}
}

// take removes the cached record of key and returns it with its revision;
// the caller owns it (it may change it and put it back).
func (c *recordCache) take(key string) (*batch.JobDetail, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return nil, 0, false
	}
	delete(c.entries, key)
	return e.job, e.rev, true
}

// put remembers the record written at rev (the cache owns job from then
// on: the caller must not change it); a final record is forgotten (its
// job has no more lifecycle facts).
func (c *recordCache) put(key string, rev uint64, job *batch.JobDetail) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if job.Status.Final() {
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
	c.entries[key] = cachedRecord{rev: rev, job: job}
}

// forget drops key (its cached revision proved stale).
func (c *recordCache) forget(key string) {
	c.mu.Lock()
	delete(c.entries, key)
	c.mu.Unlock()
}
