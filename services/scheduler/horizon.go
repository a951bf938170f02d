package scheduler

import (
	"cmp"
	"container/heap"
	"slices"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/services/scheduler/internal/plan"
)

// RecordLagLimit is how long a submit without a job record holds back the
// jobs submitted after it (see horizon). Past it the scheduler logs the
// submit and lets the later jobs go: a monitor that cannot record a job
// must not stop every queue.
const RecordLagLimit = time.Minute

// horizon keeps jobs in submit order although the monitor records them in
// parallel partitions: the record of a job can reach the scheduler before
// the record of a job submitted earlier in another partition, and a pass
// would place the later one first. The scheduler hears every submit
// (headers only, in stream order, submits.go) and holds back the record of
// a new job while a submit before it has no record yet, or while it has
// not heard the stream up to the job's own submit (it could not know of
// the earlier ones); then the held ones join the plan in submit order. So a FIFO queue starts
// its jobs in submit order, whatever the monitors' partitions do.
//
// It is owned by the scheduler's loop (no locking). Time comes from the
// caller, so that tests drive it.
type horizon struct {
	maxLag time.Duration
	// heard is how far the submits of the stream were heard: every submit
	// at or before it is known.
	heard uint64
	// unrecorded are the submits heard, in stream order, whose record has
	// not been seen; done entries are dropped from the front.
	unrecorded []*heardSubmit
	byJob      map[string]*heardSubmit
	// seen are the jobs whose record was seen lately (this generation and
	// the previous one): a submit heard after its record holds nothing.
	seen, seenBefore map[string]struct{}
	// held are records of new jobs behind the horizon, latest per job, with
	// a heap of their sequences (entries of replaced or forgotten records
	// are skipped when popped).
	held  map[string]heldJob
	order seqHeap
}

// heldJob is a held record and when it was first held.
type heldJob struct {
	job   plan.Job
	since time.Time
}

// heardSubmit is one submit heard from the stream.
type heardSubmit struct {
	job  string
	seq  uint64
	at   time.Time
	done bool
}

func newHorizon(maxLag time.Duration) *horizon {
	return &horizon{maxLag: maxLag, byJob: map[string]*heardSubmit{}, seen: map[string]struct{}{},
		seenBefore: map[string]struct{}{}, held: map[string]heldJob{}}
}

// submitted notes a submit heard from the stream.
func (h *horizon) submitted(job string, seq uint64, now time.Time) {
	h.heardUpTo(seq)
	if h.wasSeen(job) || h.byJob[job] != nil {
		return
	}
	s := &heardSubmit{job: job, seq: seq, at: now}
	h.unrecorded = append(h.unrecorded, s)
	h.byJob[job] = s
}

// heardUpTo notes that every submit at or before seq was heard.
func (h *horizon) heardUpTo(seq uint64) { h.heard = max(h.heard, seq) }

// recorded notes that a record of job was seen.
func (h *horizon) recorded(job string) {
	h.seen[job] = struct{}{}
	if s := h.byJob[job]; s != nil {
		s.done = true
		delete(h.byJob, job)
	}
}

func (h *horizon) wasSeen(job string) bool {
	if _, ok := h.seen[job]; ok {
		return true
	}
	_, ok := h.seenBefore[job]
	return ok
}

// limit is the last submit whose job may join the plan: the oldest submit
// still without a record, or how far the submits were heard.
func (h *horizon) limit() uint64 {
	i := 0
	for i < len(h.unrecorded) && h.unrecorded[i].done {
		i++
	}
	h.drop(i)
	if len(h.unrecorded) == 0 {
		return h.heard
	}
	return min(h.unrecorded[0].seq, h.heard)
}

// expire stops waiting for the submits heard maxLag ago or earlier and
// still without a record, and returns them for the caller to log.
func (h *horizon) expire(now time.Time) (expired []heardSubmit) {
	i := 0
	for ; i < len(h.unrecorded); i++ {
		s := h.unrecorded[i]
		if s.done {
			continue
		}
		if now.Sub(s.at) < h.maxLag {
			break
		}
		expired = append(expired, *s)
		delete(h.byJob, s.job)
	}
	h.drop(i)
	return expired
}

// drop removes the first n submits.
func (h *horizon) drop(n int) {
	if n > 0 {
		clear(h.unrecorded[:n])
		h.unrecorded = h.unrecorded[n:]
	}
}

// behind reports that the record of a job the plan does not know yet
// must wait: it is a job waiting to run, submitted after limit.
func behind(j *plan.Job, limit uint64) bool {
	if j.Node || j.Seq <= limit {
		return false
	}
	switch j.Status {
	case batch.StatusSubmitted, batch.StatusPending, batch.StatusRunnable:
		return true
	}
	return false
}

// hold keeps a record behind the horizon (the latest one per job).
func (h *horizon) hold(j plan.Job, now time.Time) {
	old, ok := h.held[j.ID]
	if !ok || old.job.Seq != j.Seq {
		heap.Push(&h.order, seqEntry{seq: j.Seq, job: j.ID})
	}
	if !ok {
		old.since = now
	}
	h.held[j.ID] = heldJob{job: j, since: old.since}
}

// forget drops the held record of a job whose record was deleted.
func (h *horizon) forget(job string) { delete(h.held, job) }

// holds reports whether job's record is held.
func (h *horizon) holds(job string) bool { _, ok := h.held[job]; return ok }

// release returns the held records at or before limit, in submit order.
func (h *horizon) release(limit uint64) []plan.Job {
	var out []plan.Job
	for h.order.Len() > 0 && h.order[0].seq <= limit {
		e := heap.Pop(&h.order).(seqEntry)
		hj, ok := h.held[e.job]
		if !ok || hj.job.Seq != e.seq {
			continue // forgotten, or pushed again under another sequence
		}
		delete(h.held, e.job)
		out = append(out, hj.job)
	}
	return out
}

// overdue returns, in submit order, the records held for maxLag or longer
// (the submits were not heard that long: the feed is down), and stops
// holding them. It walks every held record: the loop calls it once a
// second, not per change.
func (h *horizon) overdue(now time.Time) []plan.Job {
	var out []plan.Job
	for id, hj := range h.held {
		if now.Sub(hj.since) >= h.maxLag {
			delete(h.held, id) // its heap entry is skipped when popped
			out = append(out, hj.job)
		}
	}
	slices.SortFunc(out, func(a, b plan.Job) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

// rotate forgets the records seen two generations ago; the loop calls it
// every maxLag, so a record is remembered for maxLag at least.
func (h *horizon) rotate() {
	h.seenBefore, h.seen = h.seen, h.seenBefore
	clear(h.seen)
}

type seqEntry struct {
	seq uint64
	job string
}

// seqHeap is a min-heap of sequences.
type seqHeap []seqEntry

func (q seqHeap) Len() int           { return len(q) }
func (q seqHeap) Less(i, j int) bool { return q[i].seq < q[j].seq }
func (q seqHeap) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *seqHeap) Push(x any)        { *q = append(*q, x.(seqEntry)) }
func (q *seqHeap) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}
