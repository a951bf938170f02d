package launcher

import (
	"sync/atomic"
	"time"
)

// recordLag estimates how long the monitor takes to record a placement
// after this launcher received it (an exponentially weighted average), so
// that stillWanted reads the record once when it is likely to show the
// placement rather than polling it from the first millisecond: with many
// hosts and a busy monitor, polling cost up to 30 reads of the record per
// job.
type recordLag struct{ ns atomic.Int64 }

// maxFirstWait bounds the wait before the first read.
const maxFirstWait = 200 * time.Millisecond

// first is how long to wait before the first read of the record.
func (r *recordLag) first() time.Duration {
	return min(time.Duration(r.ns.Load()), maxFirstWait)
}

// observe folds in how long a placement took to show (weight 1/8).
func (r *recordLag) observe(d time.Duration) {
	for {
		old := r.ns.Load()
		next := old + (int64(d)-old)/8
		if r.ns.CompareAndSwap(old, next) {
			return
		}
	}
}
