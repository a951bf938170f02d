package api

import (
	"cmp"
	"slices"

	"github.com/batchd/batchd/pkg/batch"
)

// The RUNNABLE part of the job index: each queue's RUNNABLE jobs, array
// children included, in submit order, for GetJobQueueSnapshot.

// linkRunnable adds a RUNNABLE e to its queue's set. Called under x.mu.
func (x *jobIndex) linkRunnable(e *jobEntry) {
	if e.status != batch.StatusRunnable || e.queue == "" {
		return
	}
	set := x.runnable[e.queue]
	if set == nil {
		set = &orderedSet{}
		x.runnable[e.queue] = set
	}
	set.insert(e)
}

// unlinkRunnable removes e from its queue's set. Called under x.mu.
func (x *jobIndex) unlinkRunnable(e *jobEntry) {
	if e.status != batch.StatusRunnable {
		return
	}
	if set := x.runnable[e.queue]; set != nil && set.remove(e) && set.len() == 0 {
		delete(x.runnable, e.queue)
	}
}

// frontOfQueue returns the first n RUNNABLE jobs of a queue in dispatch
// order and when the newest of them last changed: submit order for a FIFO
// queue; for a fair-share queue, schedulingPriority (higher first), then
// submit order.
func (x *jobIndex) frontOfQueue(queue string, fairShare bool, n int) ([]batch.FrontOfQueueJobSummary, int64) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	set := x.runnable[queue]
	if set == nil {
		return []batch.FrontOfQueueJobSummary{}, 0
	}
	var picked []*jobEntry
	set.ascend(nil, func(e *jobEntry) bool {
		picked = append(picked, e)
		return fairShare || len(picked) < n
	})
	if fairShare {
		slices.SortStableFunc(picked, func(a, b *jobEntry) int { return cmp.Compare(b.priority, a.priority) })
		picked = picked[:min(n, len(picked))]
	}
	out := make([]batch.FrontOfQueueJobSummary, len(picked))
	var last int64
	for i, e := range picked {
		out[i] = batch.FrontOfQueueJobSummary{JobArn: batch.ARN(batch.KindJob, e.key.id), EarliestTimeAtPosition: e.runnableAt}
		last = max(last, e.updatedAt)
	}
	return out, last
}
