package plan

import (
	"cmp"
	"container/heap"
	"slices"
	"time"

	"github.com/batchd/batchd/pkg/events"
)

// pass is the bookkeeping of one Place: what the running and placed jobs
// hold, and what this pass found out about job shapes.
type pass struct {
	now   time.Time
	hosts []*events.Host

	env  map[string]Milli // vCPUs held per environment
	cpu  map[string]Milli // per host
	mem  map[string]int64
	gpus map[string]int

	queueRun   map[string]int   // jobs running per queue
	queueVCPU  map[string]Milli // vCPUs held per queue
	shareRun   map[shareKey]int
	shareVCPU  map[shareKey]Milli
	arrayRun   map[string]int
	resources  map[string]int64 // quantity held per consumable resource
	capacities map[string]Milli // per queue, for computeReservation

	// static holds per shape the reason it can never run ("" when it
	// can); full the capacity reason of shapes that did not fit: room
	// only shrinks during a pass, so they will not fit later either.
	static map[shape]string
	full   map[shape]string
	// The same for the last shape seen: jobs in a row are often alike.
	last                 shape
	lastStatic, lastFull string

	places []Placement
	waits  []Wait
	quiet  bool // deciding placements only: reasons come later
}

// shape is what decides whether a job fits a queue's environments.
type shape struct {
	queue string
	vcpu  Milli
	mem   int64
	gpus  int
	gang  string // a gang's node signature ("" for other jobs)
}

func shapeOf(j *Job) shape {
	if j.gang() {
		return gangShape(j)
	}
	return shape{queue: j.Queue, vcpu: j.VCPU, mem: j.MemoryMiB, gpus: j.GPUs}
}

// least is the smallest shape in every dimension (of a single job).
func (a shape) least(b shape) shape {
	return shape{queue: a.queue, vcpu: min(a.vcpu, b.vcpu), mem: min(a.mem, b.mem), gpus: min(a.gpus, b.gpus)}
}

func (s *State) newPass() *pass {
	p := s.scratch
	if p == nil {
		p = &pass{env: map[string]Milli{}, cpu: map[string]Milli{}, mem: map[string]int64{}, gpus: map[string]int{},
			queueRun: map[string]int{}, queueVCPU: map[string]Milli{}, shareRun: map[shareKey]int{},
			shareVCPU: map[shareKey]Milli{}, arrayRun: map[string]int{}, resources: map[string]int64{},
			capacities: map[string]Milli{}, static: map[shape]string{}, full: map[shape]string{}}
		s.scratch = p
	} else {
		// The maps of the last pass, emptied: no growing them again.
		clear(p.env)
		clear(p.cpu)
		clear(p.mem)
		clear(p.gpus)
		clear(p.queueRun)
		clear(p.queueVCPU)
		clear(p.shareRun)
		clear(p.shareVCPU)
		clear(p.arrayRun)
		clear(p.resources)
		clear(p.capacities)
		clear(p.static)
		clear(p.full)
	}
	p.now, p.last, p.lastStatic, p.lastFull = s.Clock(), shape{vcpu: -1}, "", ""
	p.places, p.waits = nil, nil
	p.hosts = p.hosts[:0]
	for _, h := range s.Hosts {
		p.hosts = append(p.hosts, h)
	}
	slices.SortFunc(p.hosts, func(a, b *events.Host) int { return cmp.Compare(a.ID, b.ID) })
	for _, j := range s.occ {
		p.hold(j)
	}
	for _, j := range s.held {
		for _, n := range j.Needs {
			if r := s.Resources[n.Resource]; r != nil && (j.occupies() || !r.Replenishable) {
				p.resources[n.Resource] += n.Quantity
			}
		}
	}
	return p
}

// hold counts a running or placed job, but not its consumable resources.
// A gang's nodes hold their hosts, the gang the rest.
func (p *pass) hold(j *Job) {
	if j.Node {
		p.holdHost(j)
		return
	}
	p.env[j.Env] += j.VCPU
	if !j.gang() {
		p.holdHost(j)
	}
	p.queueRun[j.Queue]++
	p.queueVCPU[j.Queue] += j.VCPU
	k := shareKey{j.Queue, j.Share}
	p.shareRun[k]++
	p.shareVCPU[k] += j.VCPU
	if a := j.array(); a != "" {
		p.arrayRun[a]++
	}
}

// wait records the reason a job waits, when it changed.
func (p *pass) wait(j *Job, reason string) {
	if !p.quiet && j.Reason != reason {
		j.Reason = reason
		p.waits = append(p.waits, Wait{Job: j, Reason: reason})
	}
}

// Place decides which RUNNABLE jobs start now, and returns them with the
// wait reasons that changed. Queues go by priority (higher first); a FIFO
// queue's jobs in submit order, a fair-share queue's by share (see
// fairshare.go); each job tries the queue's environments in order and,
// in an environment, the host with the most free vCPUs. A job that does
// not fit does not block the ones behind it. Every RUNNABLE job that is
// not placed gets a reason (reasons.go).
func (s *State) Place() ([]Placement, []Wait) {
	p := s.newPass()
	queues := make([]*Queue, 0, len(s.Queues))
	for _, q := range s.Queues {
		queues = append(queues, q)
	}
	slices.SortFunc(queues, func(a, b *Queue) int {
		if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	var walks []*walk
	for _, q := range queues {
		if w := s.placeQueue(p, q); w != nil {
			walks = append(walks, w)
		}
	}
	// Reasons last, from what every queue holds at the end of the pass:
	// queues share consumable resources.
	for _, w := range walks {
		s.explain(p, w)
	}
	// Jobs of queues that do not exist (deleted, or not seen yet).
	var orphans []string
	for name := range s.lists {
		if s.Queues[name] == nil {
			orphans = append(orphans, name)
		}
	}
	slices.Sort(orphans)
	for _, name := range orphans {
		r := reasonNoQueue(name)
		sig := tailSig{epoch: s.epoch, limit: -3}
		for _, l := range s.compact(name, false) {
			for _, j := range l.unexplained(sig, 0) {
				if j.sig != sig && l.member(j) {
					p.wait(j, r)
					j.sig = sig
				}
			}
			l.explained(sig)
		}
	}
	s.dirty = false
	return p.places, p.waits
}

// walk is what a queue's ordered walk leaves for explain: the jobs it
// passed over and the cursors where it stopped.
type walk struct {
	q      *Queue
	limit  Milli
	passed []waiting
	rest   []*cursor
}

// placeQueue places what it can of a queue's jobs, in order; the wait
// reasons come after every queue (explain).
func (s *State) placeQueue(p *pass, q *Queue) *walk {
	fair := q.Policy != ""
	lists := s.compact(q.Name, fair)
	var pol *Policy
	if fair {
		pol = s.Policies[q.Policy] // nil: the defaults until it is known
		s.account(p, q, lists)
		defer func() {
			for share, u := range s.usage[q.Name] {
				u.held = p.shareVCPU[shareKey{q.Name, share}]
			}
		}()
	}
	if len(lists) == 0 {
		return nil
	}
	if !q.Enabled {
		r := reasonQueueDisabled(q.Name)
		sig := tailSig{epoch: s.epoch, limit: -2}
		for _, l := range lists {
			for _, j := range l.unexplained(sig, 0) {
				if j.sig != sig && l.member(j) {
					p.wait(j, r)
					j.sig = sig
				}
			}
			l.explained(sig)
		}
		return nil
	}
	// The vCPUs the queue may hold: all, or what computeReservation
	// leaves.
	limit := Milli(-1)
	if fair {
		active := 0
		for _, l := range lists {
			if p.shareRun[shareKey{q.Name, l.share}] == 0 {
				active++
			}
		}
		for k, n := range p.shareRun {
			if k.queue == q.Name && n > 0 {
				active++
			}
		}
		if r := pol.reserved(active); r > 0 {
			limit = Milli((1 - r) * float64(s.capacity(p, q)))
		}
	}
	h := &cursors{fair: fair}
	smallest := lists[0].min
	for _, l := range lists {
		smallest = smallest.least(l.min)
		c := &cursor{l: l}
		if c.skip(); c.i >= len(l.jobs) {
			continue
		}
		if fair {
			c.weight = pol.weight(l.share)
			c.rule, _ = pol.rule(l.share)
			c.use = s.usage[q.Name][l.share]
			c.key = h.keyOf(p, q, c)
		}
		h.items = append(h.items, c)
	}
	// Jobs in order while the queue may still place one; once not even
	// its smallest job would fit, order no longer matters and the rest
	// only need their reasons. The reasons of the jobs passed over come
	// last too, from the counts at the end of the pass: a later placement
	// may have filled a limit.
	var passed []waiting
	heap.Init(h)
	for open := !s.exhausted(p, q, smallest, limit); open && h.Len() > 0; {
		c := h.items[0]
		j := c.l.jobs[c.i]
		c.i++
		c.skip()
		p.quiet = true
		placed := s.consider(p, q, c, j, limit, false)
		p.quiet = false
		if !placed {
			passed = append(passed, waiting{c, j})
		}
		if placed {
			if fair {
				c.key = h.keyOf(p, q, c)
			}
			open = !s.exhausted(p, q, smallest, limit)
		}
		switch {
		case c.i >= len(c.l.jobs):
			heap.Pop(h)
		case placed || !fair:
			heap.Fix(h, 0)
		}
	}
	return &walk{q: q, limit: limit, passed: passed, rest: h.items}
}

// explain gives the reasons of a queue's jobs that were not placed. A
// job left at the tail whose reason was worked out under the same
// signature has it still.
func (s *State) explain(p *pass, w *walk) {
	q, limit := w.q, w.limit
	sig := tailSig{epoch: s.epoch, counts: s.counts, limit: limit,
		queueFull: q.MaxRunning > 0 && p.queueRun[q.Name] >= q.MaxRunning}
	if limit >= 0 {
		sig.queueVCPU = p.queueVCPU[q.Name]
	}
	shareFull := func(c *cursor) bool {
		return c.rule.MaxRunning > 0 && p.shareRun[shareKey{q.Name, c.l.share}] >= c.rule.MaxRunning
	}
	for _, pw := range w.passed {
		sig.shareFull = shareFull(pw.c)
		s.consider(p, q, pw.c, pw.j, limit, true)
		pw.j.sig = sig
	}
	for _, c := range w.rest {
		sig.shareFull = shareFull(c)
		// A list explained under sig: only the jobs added since (those
		// the walk reached are placed or passed over, explained above).
		for _, j := range c.l.unexplained(sig, c.i) {
			if j.sig == sig || !c.l.member(j) {
				continue
			}
			s.consider(p, q, c, j, limit, true)
			j.sig = sig
		}
		c.l.explained(sig)
	}
	// Lists the ordered walk went through to the end: their jobs are
	// placed or were passed over and explained above.
	for _, pw := range w.passed {
		if pw.c.i >= len(pw.c.l.jobs) {
			sig.shareFull = shareFull(pw.c)
			pw.c.l.explained(sig)
		}
	}
}

// waiting is a job passed over in a queue's ordered walk.
type waiting struct {
	c *cursor
	j *Job
}

// tailSig is everything a waiting job's reason depends on at the tail of
// a queue that has no room left, besides the job itself.
type tailSig struct {
	epoch, counts        uint64
	limit, queueVCPU     Milli
	queueFull, shareFull bool
}

// exhausted reports that a queue can place nothing more in this pass: at
// its maxRunningJobs, or no room for a job of the smallest shape.
func (s *State) exhausted(p *pass, q *Queue, smallest shape, limit Milli) bool {
	if q.MaxRunning > 0 && p.queueRun[q.Name] >= q.MaxRunning {
		return true
	}
	if limit >= 0 && p.queueVCPU[q.Name]+smallest.vcpu > limit {
		return true
	}
	_, ok := s.fit(p, q, &Job{VCPU: smallest.vcpu, MemoryMiB: smallest.mem, GPUs: smallest.gpus}) // a gang's smallest node
	return !ok
}

// consider places a job or says why it waits; it reports a placement.
// With full, the queue has no room left and the job only gets its reason.
func (s *State) consider(p *pass, q *Queue, c *cursor, j *Job, limit Milli, full bool) bool {
	sh := shapeOf(j)
	if sh != p.last {
		p.last, p.lastFull = sh, ""
		var ok bool
		if p.lastStatic, ok = p.static[sh]; !ok {
			if j.gang() {
				p.lastStatic = s.gangStaticReason(p, q, j)
			} else {
				p.lastStatic = s.staticReason(p, q, j)
			}
			p.static[sh] = p.lastStatic
		}
	}
	static := p.lastStatic
	if static != "" {
		p.wait(j, static)
		return false
	}
	if r := s.resourceReason(p, j, false); r != "" {
		p.wait(j, r)
		return false
	}
	switch {
	case q.MaxRunning > 0 && p.queueRun[q.Name] >= q.MaxRunning:
		p.wait(j, reasonQueueLimit(q))
		return false
	case c.rule.MaxRunning > 0 && p.shareRun[shareKey{q.Name, j.Share}] >= c.rule.MaxRunning:
		p.wait(j, reasonShareLimit(q, j.Share, c.rule.MaxRunning))
		return false
	}
	if a := j.array(); a != "" && p.arrayRun[a] >= j.ArrayMax {
		p.wait(j, reasonArrayLimit(a, j.ArrayMax))
		return false
	}
	if r := s.resourceReason(p, j, true); r != "" {
		p.wait(j, r)
		return false
	}
	if limit >= 0 && p.queueVCPU[q.Name]+j.VCPU > limit {
		p.wait(j, reasonReservation(q))
		return false
	}
	if j.gang() && s.nodesBusy(j) {
		p.wait(j, reasonNodesBusy(j))
		return false
	}
	if p.lastFull != "" {
		p.wait(j, p.lastFull)
		return false
	}
	if r, ok := p.full[sh]; ok {
		p.lastFull = r
		p.wait(j, r)
		return false
	}
	var pl Placement
	ok := false
	switch {
	case full:
	case j.gang():
		pl, ok = s.fitGang(p, q, j)
	default:
		pl, ok = s.fit(p, q, j)
	}
	if !ok {
		r := s.capacityReason(q, j)
		p.full[sh], p.lastFull = r, r
		p.wait(j, r)
		return false
	}
	fresh := !j.consumed()
	j.Placed = pl.Attempt
	j.Host, j.Env = pl.Host, pl.Env
	j.Reason = ""
	j.list.leave()
	p.hold(j)
	if j.gang() {
		s.placeGang(p, pl)
	}
	for _, n := range j.Needs {
		if s.Resources[n.Resource].Replenishable || fresh {
			p.resources[n.Resource] += n.Quantity
		}
	}
	s.track(j)
	p.places = append(p.places, pl)
	return true
}

// trim drops the entries of jobs that left the list: those at its head
// (jobs are mostly placed in order, so this is most of them), and all of
// them once they may be more than a quarter of the list, so that a pass
// costs what changed, not the length of the list.
func (l *shareList) trim() {
	n := 0
	for n < len(l.jobs) && !l.member(l.jobs[n]) {
		if l.jobs[n].list == l {
			l.jobs[n].list = nil
		}
		n++
	}
	if n > 0 {
		clear(l.jobs[:n])
		l.jobs = l.jobs[n:]
		l.sorted = max(0, l.sorted-n)
		l.left = max(0, l.left-n)
	}
	if l.left == 0 || l.left*4 < len(l.jobs) {
		return
	}
	kept := l.jobs[:0]
	for _, j := range l.jobs {
		switch {
		case j.list != l:
		case l.member(j):
			if len(kept) == 0 {
				l.min = shapeOf(j)
			}
			l.min = l.min.least(shapeOf(j))
			kept = append(kept, j)
		default:
			j.list = nil
		}
	}
	clear(l.jobs[len(kept):])
	l.jobs = kept
	if l.unsorted {
		l.sorted = 0 // where the ordered prefix ends is not known: sort it all
	} else {
		l.sorted = len(kept)
	}
	l.left = 0
}

// compact drops the jobs that are no longer waiting, sorts the rest, and
// returns the queue's non-empty lists by share identifier.
func (s *State) compact(queue string, fair bool) []*shareList {
	byShare := s.lists[queue]
	out := make([]*shareList, 0, len(byShare))
	for share, l := range byShare {
		if l.stale {
			l.trim()
			l.stale = false
		}
		kept := l.jobs
		if len(kept) == 0 {
			delete(byShare, share)
			continue
		}
		if l.unsorted || l.fair != fair {
			if l.fair != fair {
				l.sorted = 0 // ordered by another rule
			}
			l.fair = fair
			l.sort()
		}
		out = append(out, l)
	}
	if len(byShare) == 0 {
		delete(s.lists, queue)
	}
	slices.SortFunc(out, func(a, b *shareList) int { return cmp.Compare(a.share, b.share) })
	return out
}

// capacity is the vCPUs of a queue's enabled environments: each
// environment's maxvCpus, or the vCPUs of the hosts serving it when they
// are fewer.
func (s *State) capacity(p *pass, q *Queue) Milli {
	if c, ok := p.capacities[q.Name]; ok {
		return c
	}
	var total Milli
	for _, name := range q.Envs {
		e := s.Envs[name]
		if e == nil || !e.Enabled {
			continue
		}
		var hosts Milli
		for _, h := range p.hosts {
			if h.Serves(name) {
				hosts += ToMilli(h.VCPUs)
			}
		}
		if e.MaxVCPU > 0 && e.MaxVCPU < hosts {
			hosts = e.MaxVCPU
		}
		total += hosts
	}
	p.capacities[q.Name] = total
	return total
}

func (s *State) fit(p *pass, q *Queue, j *Job) (Placement, bool) {
	for _, name := range q.Envs {
		e := s.Envs[name]
		if e == nil || !e.Enabled {
			continue
		}
		if e.MaxVCPU > 0 && p.env[name]+j.VCPU > e.MaxVCPU {
			continue
		}
		var best *events.Host
		var bestFree Milli
		for _, h := range p.hosts {
			if !h.Serves(name) {
				continue
			}
			free := ToMilli(h.VCPUs) - p.cpu[h.ID]
			if free < j.VCPU || h.MemoryMiB-p.mem[h.ID] < j.MemoryMiB || h.GPUs-p.gpus[h.ID] < j.GPUs {
				continue
			}
			if best == nil || free > bestFree {
				best, bestFree = h, free
			}
		}
		if best == nil {
			continue
		}
		return Placement{Job: j, Attempt: j.Attempts + 1, Host: best.ID, Env: name}, true
	}
	return Placement{}, false
}

// cursor walks one share list during a pass.
type cursor struct {
	l      *shareList
	i      int
	weight float64
	rule   ShareRule
	use    *shareUse
	key    float64
}

// skip moves the cursor past entries of jobs that left its list.
func (c *cursor) skip() {
	for c.i < len(c.l.jobs) && !c.l.member(c.l.jobs[c.i]) {
		c.i++
	}
}

// cursors is the heap of a queue's share lists: by the head job's submit
// order on a FIFO queue, by weighted usage on a fair-share queue.
type cursors struct {
	fair  bool
	items []*cursor
}

func (h *cursors) keyOf(p *pass, q *Queue, c *cursor) float64 {
	// Half a job on top (Sainte-Laguë): comparing usage before the next
	// job would favour the small shares, after it the large ones.
	held := float64(p.shareVCPU[shareKey{q.Name, c.l.share}]) + float64(c.l.min.vcpu)/2
	avg := 0.0
	if c.use != nil {
		avg = c.use.avg
	}
	return (avg + held) * c.weight
}

func (h *cursors) Len() int { return len(h.items) }
func (h *cursors) Less(a, b int) bool {
	x, y := h.items[a], h.items[b]
	if h.fair {
		if x.key != y.key {
			return x.key < y.key
		}
		return x.l.share < y.l.share
	}
	return x.l.jobs[x.i].Seq < y.l.jobs[y.i].Seq
}
func (h *cursors) Swap(a, b int) { h.items[a], h.items[b] = h.items[b], h.items[a] }
func (h *cursors) Push(x any)    { h.items = append(h.items, x.(*cursor)) }
func (h *cursors) Pop() any {
	n := len(h.items)
	x := h.items[n-1]
	h.items = h.items[:n-1]
	return x
}

// account brings the fair-share usage of a queue's shares forward to the
// pass's time, creating it for new shares and forgetting shares that have
// neither jobs nor usage left.
func (s *State) account(p *pass, q *Queue, lists []*shareList) {
	uses := s.usage[q.Name]
	if uses == nil {
		uses = map[string]*shareUse{}
		s.usage[q.Name] = uses
	}
	decay := s.Policies[q.Policy].decay()
	for share, u := range uses {
		u.advance(p.now, decay)
		if u.avg < 1 && p.shareRun[shareKey{q.Name, share}] == 0 && u.held == 0 {
			delete(uses, share)
		}
	}
	for _, l := range lists {
		if uses[l.share] == nil {
			uses[l.share] = &shareUse{at: p.now}
		}
	}
	for k := range p.shareRun {
		if k.queue == q.Name && uses[k.share] == nil {
			uses[k.share] = &shareUse{at: p.now}
		}
	}
}
