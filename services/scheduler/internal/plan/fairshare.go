package plan

import (
	"cmp"
	"github.com/batchd/batchd/pkg/batch"
	"math"
	"slices"
	"strings"
	"time"
)

// Fair share. A queue with a scheduling policy serves its share
// identifiers in proportion to 1/weightFactor: the next job comes from the
// share whose weighted usage, (decayed usage + vCPUs held now + half a
// job) × weightFactor, is lowest. The half job makes the rounding to whole
// jobs fair (the Sainte-Laguë method). The decayed usage is an exponentially weighted
// average of the vCPUs the share held, with shareDecaySeconds as the time
// constant, so a share that ran much recently yields to the others for a
// while. Within a share, jobs go by schedulingPriority (higher first),
// then submit order.

// DefaultDecaySeconds is the usage window when shareDecaySeconds is 0.
const DefaultDecaySeconds = 600

type shareKey struct{ queue, share string }

// shareUse is the fair-share accounting of one share of one queue.
type shareUse struct {
	avg  float64   // decayed average of the milli-vCPUs held
	held Milli     // milli-vCPUs held at the end of the last pass
	at   time.Time // when avg was last brought forward
}

// advance brings the decayed average forward to now, the share having
// held u.held since u.at.
func (u *shareUse) advance(now time.Time, decay time.Duration) {
	if u.at.IsZero() {
		u.at = now
		return
	}
	dt := now.Sub(u.at)
	if dt <= 0 {
		return
	}
	f := math.Exp(-float64(dt) / float64(decay))
	u.avg = u.avg*f + float64(u.held)*(1-f)
	u.at = now
}

// shareList is the RUNNABLE jobs of one share identifier of one queue.
type shareList struct {
	queue, share string
	jobs         []*Job
	unsorted     bool
	sorted       int   // the first sorted jobs are in order (all of them unless unsorted)
	fair         bool  // sorted by priority first
	stale        bool  // holds jobs that left it
	left         int   // jobs marked as left since the last full compaction (an upper bound)
	min          shape // no job of the list is smaller in any dimension
	// clean: every job of the list has its reason worked out under this
	// signature (zero: not known), but those added since (added).
	clean tailSig
	added []*Job
}

// unexplained is what of the list may lack its reason under sig: the jobs
// added since the list was explained under sig, else every job from
// index from on.
func (l *shareList) unexplained(sig tailSig, from int) []*Job {
	if l.clean == sig {
		return l.added
	}
	return l.jobs[from:]
}

// explained notes that every job of the list has its reason under sig.
func (l *shareList) explained(sig tailSig) {
	l.clean = sig
	l.added = nil
}

// add appends a job that waits in the list.
func (l *shareList) add(j *Job) {
	if n := len(l.jobs); n > 0 && !l.before(l.jobs[n-1], j) {
		l.unsorted = true
	}
	l.jobs = append(l.jobs, j)
	if !l.unsorted {
		l.sorted = len(l.jobs)
	}
	l.min = l.min.least(shapeOf(j))
	if l.clean != (tailSig{}) {
		l.added = append(l.added, j)
		if len(l.added) > len(l.jobs)/2 {
			l.clean, l.added = tailSig{}, nil // as cheap to explain them all
		}
	}
	j.list = l
}

// leave notes that j, in the list, no longer waits in it (placed, moved,
// no longer RUNNABLE, removed); compact drops it.
func (l *shareList) leave() {
	l.stale = true
	l.left++
}

// member reports whether j, an entry of the list, still waits in it.
// Entries of jobs that left stay until compact drops them, so whoever
// walks the list skips the others.
func (l *shareList) member(j *Job) bool {
	return j.list == l && j.Status == batch.StatusRunnable && j.Placed == 0 && !j.removed
}

func (l *shareList) before(a, b *Job) bool { return l.compare(a, b) < 0 }

func (l *shareList) compare(a, b *Job) int {
	if l.fair {
		if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
			return c
		}
	}
	return cmp.Compare(a.Seq, b.Seq)
}

// sort orders the list (stably). Jobs mostly arrive in order, a few
// late: the ordered prefix (sorted) is kept, only the jobs after it are
// sorted and then merged into it from the back, the prefix's jobs first
// among equals (the order a stable sort of the whole list gives). A late
// job is seldom much earlier than the last ones, so a pass over a large
// queue costs about the late jobs, not a sort or a scan of every job.
func (l *shareList) sort() {
	jobs := l.jobs
	n := min(l.sorted, len(jobs))
	l.unsorted, l.sorted = false, len(jobs)
	if n == 0 {
		slices.SortStableFunc(jobs, l.compare)
		return
	}
	if n == len(jobs) {
		return
	}
	tail := slices.Clone(jobs[n:])
	slices.SortStableFunc(tail, l.compare)
	i, k := n-1, len(jobs)-1
	for t := len(tail) - 1; t >= 0; k-- {
		if i >= 0 && l.compare(jobs[i], tail[t]) > 0 {
			jobs[k] = jobs[i]
			i--
		} else {
			jobs[k] = tail[t]
			t--
		}
	}
}

// decay is the policy's usage time constant.
func (p *Policy) decay() time.Duration {
	sec := DefaultDecaySeconds
	if p != nil && p.DecaySeconds > 0 {
		sec = p.DecaySeconds
	}
	return time.Duration(sec) * time.Second
}

// rule finds the shareDistribution entry of a share identifier: an exact
// match, else the longest matching prefix entry ("foo*").
func (p *Policy) rule(share string) (ShareRule, bool) {
	if p == nil {
		return ShareRule{}, false
	}
	best, found := ShareRule{}, false
	for _, r := range p.Shares {
		if r.ID == share {
			return r, true
		}
		if prefix, ok := strings.CutSuffix(r.ID, "*"); ok && strings.HasPrefix(share, prefix) {
			if !found || len(r.ID) > len(best.ID) {
				best, found = r, true
			}
		}
	}
	return best, found
}

// weight is the weightFactor of a share identifier (1 when not listed).
func (p *Policy) weight(share string) float64 {
	if r, ok := p.rule(share); ok && r.Weight > 0 {
		return r.Weight
	}
	return 1
}

// reserved is the fraction of a queue's capacity held back for share
// identifiers that are not active: (computeReservation/100)^active.
func (p *Policy) reserved(active int) float64 {
	if p == nil || p.Reservation <= 0 || active <= 0 {
		return 0
	}
	return math.Pow(float64(p.Reservation)/100, float64(active))
}
