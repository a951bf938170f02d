package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
	"pgregory.net/rapid"
)

// sim is the model of the whole system the property test runs the planner
// in (property_test.go says what it models): the fact stream, the model
// monitor and launcher, and the checks made after every pass.

type simFactKind int

const (
	factGate simFactKind = iota
	factWait
	factPlaced
	factStarted
	factExited
)

type simFact struct {
	kind    simFactKind
	id      string
	attempt int
	status  batch.JobStatus // gate
	reason  string          // gate, wait
	host    string          // placed
	env     string          // placed
	success bool            // exited
	noRetry bool            // exited
}

type attemptKey struct {
	id      string
	attempt int
}

type liveAttempt struct {
	host, env string
	vcpu      Milli
	mem       int64
	gpus      int
	stage     int // 0 placed, 1 started published, 2 exited published
}

// simRecord is a job record as the monitor keeps it.
type simRecord struct {
	job         Job // Status, Attempts, Host, Env are the record's
	reason      string
	maxAttempts int
}

type sim struct {
	t       *rapid.T
	s       *State
	specs   []Job // every job of the run, Seq = index+1
	maxAtt  map[string]int
	prio    map[string]int // queue priorities
	recs    map[string]*simRecord
	stream  []simFact
	live    map[attemptKey]*liveAttempt
	placed  map[attemptKey]bool // every placement ever made
	pending []int               // spec indexes not submitted yet
	fair    map[string]bool     // fair-share queues
}

// rapid draws small values and the first elements more often: the lists
// start with the common case.
var (
	jobVCPUs  = []Milli{250, 500, 1000, 1000, 1500, 2000, 4000, 8000}
	jobMems   = []int64{0, 256, 512, 1024, 2048, 4096}
	jobGPUs   = []int{0, 0, 0, 0, 0, 0, 1, 2}
	hostVCPUs = []float64{4, 8, 2, 16, 2.5, 1, 0.5}
	hostMems  = []int64{16384, 4096, 2048}
	envMaxes  = []float64{0, 0.5, 1, 2, 3, 4, 4, 8, 16}
)

func newSim(t *rapid.T) *sim {
	m := &sim{t: t, s: NewState(), maxAtt: map[string]int{}, prio: map[string]int{}, recs: map[string]*simRecord{},
		live: map[attemptKey]*liveAttempt{}, placed: map[attemptKey]bool{}, fair: map[string]bool{}}
	m.s.Clock = func() time.Time { return time.Unix(1_700_000_000, 0) }
	if rapid.Bool().Draw(t, "resources") {
		m.s.Resources["r0"] = &Resource{Name: "r0", Total: rapid.Int64Range(1, 4).Draw(t, "r0.total"), Replenishable: true}
		m.s.Resources["r1"] = &Resource{Name: "r1", Total: rapid.Int64Range(1, 6).Draw(t, "r1.total")}
	}

	nEnvs := rapid.IntRange(1, 3).Draw(t, "envs")
	var envNames []string
	for i := range nEnvs {
		name := fmt.Sprintf("ce%d", i)
		envNames = append(envNames, name)
		m.s.Envs[name] = &Env{Name: name, Enabled: rapid.IntRange(0, 9).Draw(t, name+".disabled") != 9,
			MaxVCPU: ToMilli(rapid.SampledFrom(envMaxes).Draw(t, name+".max"))}
	}
	nHosts := rapid.IntRange(1, 4).Draw(t, "hosts")
	if rapid.IntRange(0, 19).Draw(t, "noHosts") == 19 {
		nHosts = 0
	}
	for i := range nHosts {
		id := fmt.Sprintf("h%d", i)
		h := &events.Host{ID: id, Name: id, VCPUs: rapid.SampledFrom(hostVCPUs).Draw(t, id+".vcpus"),
			MemoryMiB: rapid.SampledFrom(hostMems).Draw(t, id+".mem"), GPUs: rapid.IntRange(0, 2).Draw(t, id+".gpus")}
		if rapid.Bool().Draw(t, id+".dedicated") {
			h.ComputeEnvironments = rapid.SliceOfNDistinct(rapid.SampledFrom(envNames), 1, nEnvs, rapid.ID[string]).Draw(t, id+".envs")
		}
		m.s.Hosts[id] = h
	}
	nQueues := rapid.IntRange(1, 3).Draw(t, "queues")
	var queueNames []string
	for i := range nQueues {
		name := fmt.Sprintf("q%d", i)
		queueNames = append(queueNames, name)
		q := &Queue{Name: name, Enabled: true, Priority: rapid.IntRange(0, 3).Draw(t, name+".priority"),
			Envs:       rapid.SliceOfNDistinct(rapid.SampledFrom(envNames), 1, nEnvs, rapid.ID[string]).Draw(t, name+".envs"),
			MaxRunning: rapid.SampledFrom([]int{0, 0, 0, 1, 2, 3}).Draw(t, name+".maxRunning")}
		if rapid.IntRange(0, 2).Draw(t, name+".fair") == 0 {
			q.Policy = "p-" + name
			m.fair[name] = true
			pol := &Policy{Name: q.Policy}
			for k := range 3 {
				pol.Shares = append(pol.Shares, ShareRule{ID: fmt.Sprintf("s%d", k),
					Weight:     rapid.SampledFrom([]float64{0.5, 1, 2}).Draw(t, fmt.Sprintf("%s.s%d.weight", name, k)),
					MaxRunning: rapid.SampledFrom([]int{0, 0, 1, 2}).Draw(t, fmt.Sprintf("%s.s%d.max", name, k))})
			}
			m.s.Policies[pol.Name] = pol
		}
		m.s.Queues[name] = q
		m.prio[name] = q.Priority
	}
	nJobs := rapid.IntRange(1, 25).Draw(t, "jobs")
	arrayMax := []int{1, 2, 3}
	for i := range nJobs {
		id := fmt.Sprintf("j%02d", i+1)
		j := Job{ID: id, Queue: rapid.SampledFrom(queueNames).Draw(t, id+".queue"), Seq: uint64(i + 1),
			VCPU: rapid.SampledFrom(jobVCPUs).Draw(t, id+".vcpu"), MemoryMiB: rapid.SampledFrom(jobMems).Draw(t, id+".mem"),
			GPUs: rapid.SampledFrom(jobGPUs).Draw(t, id+".gpus")}
		if a := rapid.IntRange(0, 5).Draw(t, id+".array"); a < len(arrayMax) {
			// A child of array a<k>: its id is "a<k>:<id>", the limit is
			// the array's.
			j.ID, j.ArrayMax = fmt.Sprintf("a%d:%s", a, id), arrayMax[a]
		}
		if m.fair[j.Queue] {
			j.Share = fmt.Sprintf("s%d", rapid.IntRange(0, 3).Draw(t, id+".share"))
			j.Priority = rapid.IntRange(0, 2).Draw(t, id+".priority")
		}
		if len(m.s.Resources) > 0 {
			switch rapid.IntRange(0, 5).Draw(t, id+".needs") {
			case 0:
				j.Needs = []Need{{"r0", rapid.Int64Range(1, 2).Draw(t, id+".r0")}}
			case 1:
				j.Needs = []Need{{"r1", 1}}
			case 2:
				j.Needs = []Need{{"r0", 1}, {"r1", rapid.Int64Range(1, 2).Draw(t, id+".r1")}}
			}
		}
		if i > 0 && rapid.IntRange(0, 2).Draw(t, id+".hasDeps") == 0 {
			deps := rapid.SliceOfNDistinct(rapid.IntRange(0, i-1), 1, 2, rapid.ID[int]).Draw(t, id+".deps")
			for _, d := range deps {
				j.DependsOn = append(j.DependsOn, m.specs[d].ID)
			}
		}
		m.specs = append(m.specs, j)
		m.maxAtt[j.ID] = rapid.IntRange(1, 3).Draw(t, id+".attempts")
		m.pending = append(m.pending, i)
	}
	return m
}

// upsert feeds a record to the planner, as the KV watcher does.
func (m *sim) upsert(r *simRecord) { m.s.Upsert(r.job) }

// submit creates the record of a job.
func (m *sim) submit(i int) {
	spec := m.specs[i]
	r := &simRecord{job: spec, maxAttempts: m.maxAtt[spec.ID]}
	r.job.Status = batch.StatusSubmitted
	r.job.DependsOn = slices.Clone(spec.DependsOn)
	m.recs[spec.ID] = r
	m.upsert(r)
}

// fits says whether a job fits in env/host given the usage.
func (m *sim) fits(j *Job, envName string, h *events.Host, envUse map[string]Milli, hostUse map[string]*liveAttempt) bool {
	e := m.s.Envs[envName]
	if e == nil || !e.Enabled || !h.Serves(envName) {
		return false
	}
	if e.MaxVCPU > 0 && envUse[envName]+j.VCPU > e.MaxVCPU {
		return false
	}
	u := hostUse[h.ID]
	return ToMilli(h.VCPUs)-u.vcpu >= j.VCPU && h.MemoryMiB-u.mem >= j.MemoryMiB && h.GPUs-u.gpus >= j.GPUs
}

// usage sums the live attempts, leaving out skip.
func (m *sim) usage(skip attemptKey) (map[string]Milli, map[string]*liveAttempt) {
	env := map[string]Milli{}
	host := map[string]*liveAttempt{}
	for id := range m.s.Hosts {
		host[id] = &liveAttempt{}
	}
	for k, a := range m.live {
		if k == skip {
			continue
		}
		env[a.env] += a.vcpu
		if u := host[a.host]; u != nil {
			u.vcpu += a.vcpu
			u.mem += a.mem
			u.gpus += a.gpus
		}
	}
	return env, host
}

// feasible says whether the job could run on an idle system.
func (m *sim) feasible(j *Job) bool {
	for _, n := range j.Needs {
		if r := m.s.Resources[n.Resource]; r == nil || n.Quantity > r.Total {
			return false
		}
	}
	q := m.s.Queues[j.Queue]
	idle := map[string]*liveAttempt{}
	for id := range m.s.Hosts {
		idle[id] = &liveAttempt{}
	}
	for _, e := range q.Envs {
		for _, h := range m.s.Hosts {
			if m.fits(j, e, h, map[string]Milli{}, idle) {
				return true
			}
		}
	}
	return false
}

// limited says which limit keeps a job from running now, by the live
// attempts and the jobs that consumed NON_REPLENISHABLE resources: "limit"
// (the queue's, the share's or the array's maxRunningJobs), "resource",
// or "" for none.
func (m *sim) limited(j *Job) string {
	q := m.s.Queues[j.Queue]
	var inQueue, inShare, inArray int
	used := map[string]int64{}
	for k, a := range m.live {
		lj := m.s.Jobs[k.id]
		_ = a
		if lj.Queue == q.Name {
			inQueue++
			if lj.Share == j.Share {
				inShare++
			}
		}
		if j.array() != "" && lj.array() == j.array() {
			inArray++
		}
		for _, n := range lj.Needs {
			if m.s.Resources[n.Resource].Replenishable {
				used[n.Resource] += n.Quantity
			}
		}
	}
	for id := range m.consumers() {
		for _, n := range m.s.Jobs[id].Needs {
			if !m.s.Resources[n.Resource].Replenishable {
				used[n.Resource] += n.Quantity
			}
		}
	}
	switch {
	case q.MaxRunning > 0 && inQueue >= q.MaxRunning:
		return "limit"
	case m.fair[q.Name] && m.shareMax(q, j.Share) > 0 && inShare >= m.shareMax(q, j.Share):
		return "limit"
	case j.array() != "" && inArray >= j.ArrayMax:
		return "limit"
	}
	consumed := m.consumers()[j.ID]
	for _, n := range j.Needs {
		r := m.s.Resources[n.Resource]
		if r.Replenishable || !consumed {
			if used[n.Resource]+n.Quantity > r.Total {
				return "resource"
			}
		}
	}
	return ""
}

func (m *sim) shareMax(q *Queue, share string) int {
	r, _ := m.s.Policies[q.Policy].rule(share)
	return r.MaxRunning
}

// consumers are the jobs that hold their NON_REPLENISHABLE resources:
// every job that was ever placed.
func (m *sim) consumers() map[string]bool {
	out := map[string]bool{}
	for k := range m.placed {
		out[k.id] = true
	}
	return out
}

// checkLimits: no limit is exceeded by the live attempts. A queue's
// maxRunningJobs lowered below what runs stops nothing: it is checked for
// the queues this pass placed in.
func (m *sim) checkLimits(placedIn map[string]bool) {
	t := m.t
	perQueue, perShare, perArray := map[string]int{}, map[shareKey]int{}, map[string]int{}
	used := map[string]int64{}
	for k := range m.live {
		j := m.s.Jobs[k.id]
		perQueue[j.Queue]++
		perShare[shareKey{j.Queue, j.Share}]++
		if a := j.array(); a != "" {
			perArray[a]++
			if perArray[a] > j.ArrayMax {
				t.Fatalf("array %s runs %d children, over its maxRunningJobs of %d", a, perArray[a], j.ArrayMax)
			}
		}
		for _, n := range j.Needs {
			if m.s.Resources[n.Resource].Replenishable {
				used[n.Resource] += n.Quantity
			}
		}
	}
	for id := range m.consumers() {
		for _, n := range m.s.Jobs[id].Needs {
			if !m.s.Resources[n.Resource].Replenishable {
				used[n.Resource] += n.Quantity
			}
		}
	}
	for name, n := range perQueue {
		if q := m.s.Queues[name]; placedIn[name] && q.MaxRunning > 0 && n > q.MaxRunning {
			t.Fatalf("queue %s runs %d jobs, over its maxRunningJobs of %d", name, n, q.MaxRunning)
		}
	}
	for k, n := range perShare {
		if q := m.s.Queues[k.queue]; m.fair[q.Name] && m.shareMax(q, k.share) > 0 && n > m.shareMax(q, k.share) {
			t.Fatalf("share %s of queue %s runs %d jobs, over its maxRunningJobs of %d", k.share, k.queue, n, m.shareMax(q, k.share))
		}
	}
	for name, n := range used {
		if r := m.s.Resources[name]; n > r.Total {
			t.Fatalf("consumable resource %s: %d in use, over its total of %d", name, n, r.Total)
		}
	}
}

func (m *sim) hostsSorted() []*events.Host {
	hs := make([]*events.Host, 0, len(m.s.Hosts))
	for _, h := range m.s.Hosts {
		hs = append(hs, h)
	}
	slices.SortFunc(hs, func(a, b *events.Host) int { return strings.Compare(a.ID, b.ID) })
	return hs
}

// pass is one scheduler pass: gates, then placements and wait reasons,
// checked and published.
func (m *sim) pass() {
	t := m.t
	for _, g := range m.s.Gates() {
		r := m.recs[g.Job.ID]
		if r == nil {
			t.Fatalf("gate for unknown job %s", g.Job.ID)
		}
		// A gate follows from the dependencies' records, or from the
		// planner's own FAILED gates already in the stream.
		allOK := true
		for _, d := range r.job.DependsOn {
			if dr := m.recs[d]; dr == nil || dr.job.Status != batch.StatusSucceeded {
				allOK = false
			}
		}
		failed := ""
		if d, ok := strings.CutPrefix(g.Reason, "Dependent Job failed: "); ok && slices.Contains(r.job.DependsOn, d) {
			if dr := m.recs[d]; dr != nil && dr.job.Status == batch.StatusFailed || m.gatedFailed(d) {
				failed = d
			}
		}
		switch g.Status {
		case batch.StatusRunnable:
			if !allOK {
				t.Fatalf("%s gated RUNNABLE with dependencies %v not all SUCCEEDED", g.Job.ID, r.job.DependsOn)
			}
		case batch.StatusFailed:
			if failed == "" {
				t.Fatalf("%s gated FAILED (%q) without a failed dependency", g.Job.ID, g.Reason)
			}
		case batch.StatusPending:
			if allOK {
				t.Fatalf("%s gated PENDING with all dependencies SUCCEEDED", g.Job.ID)
			}
		default:
			t.Fatalf("%s gated to %s", g.Job.ID, g.Status)
		}
		m.stream = append(m.stream, simFact{kind: factGate, id: g.Job.ID, status: g.Status, reason: g.Reason})
	}

	places, waits := m.s.Place()
	touched := map[string]bool{}
	for _, p := range places {
		j := p.Job
		k := attemptKey{j.ID, p.Attempt}
		r := m.recs[j.ID]
		if m.placed[k] {
			t.Fatalf("%s attempt %d placed twice", j.ID, p.Attempt)
		}
		m.placed[k] = true
		for lk := range m.live {
			if lk.id == j.ID {
				t.Fatalf("%s attempt %d placed while attempt %d is live", j.ID, p.Attempt, lk.attempt)
			}
		}
		if p.Attempt != r.job.Attempts+1 {
			t.Fatalf("%s placed as attempt %d, record has %d attempts", j.ID, p.Attempt, r.job.Attempts)
		}
		if r.job.Status.Final() || r.job.Status == batch.StatusStarting || r.job.Status == batch.StatusRunning {
			t.Fatalf("%s placed while its record is %s", j.ID, r.job.Status)
		}
		for _, d := range r.job.DependsOn {
			if dr := m.recs[d]; dr == nil || dr.job.Status != batch.StatusSucceeded {
				t.Fatalf("%s placed while its dependency %s is not SUCCEEDED", j.ID, d)
			}
		}
		q := m.s.Queues[j.Queue]
		if !q.Enabled {
			t.Fatalf("%s placed from DISABLED queue %s", j.ID, q.Name)
		}
		e := m.s.Envs[p.Env]
		h := m.s.Hosts[p.Host]
		if !slices.Contains(q.Envs, p.Env) || e == nil || !e.Enabled || h == nil || !h.Serves(p.Env) {
			t.Fatalf("%s placed on %s/%s, not an enabled env of queue %s served by the host", j.ID, p.Env, p.Host, q.Name)
		}
		m.live[k] = &liveAttempt{host: p.Host, env: p.Env, vcpu: j.VCPU, mem: j.MemoryMiB, gpus: j.GPUs}
		touched[p.Env] = true
		m.stream = append(m.stream, simFact{kind: factPlaced, id: j.ID, attempt: p.Attempt, host: p.Host, env: p.Env})
	}

	// Capacity after the pass: hosts always, environments where this pass
	// placed (a lowered maxvCpus stops nothing, but admits nothing new).
	envUse, hostUse := m.usage(attemptKey{})
	for id, u := range hostUse {
		h := m.s.Hosts[id]
		if u.vcpu > ToMilli(h.VCPUs) || u.mem > h.MemoryMiB || u.gpus > h.GPUs {
			t.Fatalf("host %s over capacity: %d mvCPU %d MiB %d GPUs of %g/%d/%d", id, u.vcpu, u.mem, u.gpus, h.VCPUs, h.MemoryMiB, h.GPUs)
		}
	}
	for name := range touched {
		if e := m.s.Envs[name]; e.MaxVCPU > 0 && envUse[name] > e.MaxVCPU {
			t.Fatalf("env %s over maxvCpus: %d > %d", name, envUse[name], e.MaxVCPU)
		}
	}
	placedIn := map[string]bool{}
	for _, p := range places {
		placedIn[p.Job.Queue] = true
	}
	m.checkLimits(placedIn)

	// Every job still waiting: nothing fits it now (the pass is maximal),
	// and no job behind it took a slot it would have fitted: not one of a
	// lower-priority queue (priority is never starved) nor one submitted
	// after it to the same queue (FIFO).
	hosts := m.hostsSorted()
	placedBy := map[string]Placement{}
	for _, p := range places {
		placedBy[p.Job.ID] = p
	}
	for _, j := range m.s.Jobs {
		if j.Status != batch.StatusRunnable || j.Placed != 0 {
			continue
		}
		q := m.s.Queues[j.Queue]
		if !q.Enabled {
			if !strings.HasPrefix(j.Reason, WaitQueue+" "+q.Name+": the queue is DISABLED") {
				t.Fatalf("%s of DISABLED queue %s waits with %q", j.ID, q.Name, j.Reason)
			}
			continue
		}
		lim := m.limited(j)
		switch {
		case j.Reason == "":
			t.Fatalf("%s waits with no reason", j.ID)
		case neverFits(j.Reason) || strings.HasPrefix(j.Reason, WaitHost):
		case !m.feasible(j):
		case lim == "limit" && !strings.HasPrefix(j.Reason, WaitLimit):
			t.Fatalf("%s is at a concurrency limit but waits with %q", j.ID, j.Reason)
		case lim == "resource" && !strings.HasPrefix(j.Reason, WaitResource):
			t.Fatalf("%s waits for a consumable resource but says %q", j.ID, j.Reason)
		case lim == "" && !strings.HasPrefix(j.Reason, WaitCapacity):
			t.Fatalf("%s is held by no limit but waits with %q", j.ID, j.Reason)
		}
		if lim != "" {
			continue
		}
		for _, e := range q.Envs {
			for _, h := range hosts {
				if m.fits(j, e, h, envUse, hostUse) {
					t.Fatalf("%s (queue %s, %d mvCPU %d MiB) waits but fits %s on %s after the pass", j.ID, q.Name, j.VCPU, j.MemoryMiB, e, h.ID)
				}
			}
		}
		for _, p := range places {
			behind := m.prio[p.Job.Queue] < q.Priority || (p.Job.Queue == q.Name && p.Job.Seq > j.Seq && !m.fair[q.Name])
			if !behind || !slices.Contains(q.Envs, p.Env) {
				continue
			}
			eu, hu := m.usage(attemptKey{p.Job.ID, p.Attempt})
			if m.fits(j, p.Env, m.s.Hosts[p.Host], eu, hu) {
				t.Fatalf("%s (seq %d) of queue %s (priority %d) waits while %s (seq %d) of queue %s (priority %d) took room it fits on %s/%s",
					j.ID, j.Seq, q.Name, q.Priority, p.Job.ID, p.Job.Seq, p.Job.Queue, m.prio[p.Job.Queue], p.Env, p.Host)
			}
		}
	}

	for _, w := range waits {
		if _, ok := placedBy[w.Job.ID]; ok {
			t.Fatalf("%s both placed and waiting", w.Job.ID)
		}
		if neverFits(w.Reason) && m.feasible(w.Job) {
			t.Fatalf("%s waits with %q but could run on an idle system", w.Job.ID, w.Reason)
		}
		if w.Reason == "" {
			t.Fatalf("%s waits with no reason", w.Job.ID)
		}
		if strings.HasPrefix(w.Reason, WaitLimit) && m.limited(w.Job) != "limit" {
			t.Fatalf("%s says %q but no limit holds it", w.Job.ID, w.Reason)
		}
		if w.Job.GPUs > m.mostGPUs() && !neverFits(w.Reason) && !strings.HasPrefix(w.Reason, WaitQueue) &&
			!strings.HasPrefix(w.Reason, WaitHost) {
			t.Fatalf("%s needs %d GPUs, more than any host has, but waits with %q", w.Job.ID, w.Job.GPUs, w.Reason)
		}
		m.stream = append(m.stream, simFact{kind: factWait, id: w.Job.ID, attempt: w.Job.Attempts + 1, reason: w.Reason})
	}
}

// mostGPUs is the largest number of GPUs a host has.
func (m *sim) mostGPUs() int {
	most := 0
	for _, h := range m.s.Hosts {
		most = max(most, h.GPUs)
	}
	return most
}

func queueNames(m *sim) []string {
	names := make([]string, 0, len(m.s.Queues))
	for name := range m.s.Queues {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// neverFits says whether a reason says the job cannot run on an idle
// system.
func neverFits(reason string) bool {
	for _, p := range []string{ReasonEnvMaxResource, ReasonJobRequirement, ReasonInvalidEnvs} {
		if strings.HasPrefix(reason, p) {
			return true
		}
	}
	return false
}

// gatedFailed says whether a FAILED gate of the job is in the stream.
func (m *sim) gatedFailed(id string) bool {
	return slices.ContainsFunc(m.stream, func(f simFact) bool {
		return f.kind == factGate && f.id == id && f.status == batch.StatusFailed
	})
}

// apply is the monitor: it applies the oldest fact of the stream to its
// record, with the rules of services/monitor/apply.go.
func (m *sim) apply() {
	t := m.t
	f := m.stream[0]
	m.stream = m.stream[1:]
	r := m.recs[f.id]
	if r == nil {
		t.Fatalf("fact for unknown job %s", f.id)
	}
	j := &r.job
	k := attemptKey{f.id, f.attempt}
	changed := false
	switch f.kind {
	case factGate:
		if (j.Status == batch.StatusSubmitted || j.Status == batch.StatusPending) && f.status != j.Status &&
			!(f.status == batch.StatusPending && j.Status != batch.StatusSubmitted) {
			j.Status, r.reason, changed = f.status, f.reason, true
		}
	case factWait:
		if j.Status == batch.StatusRunnable && j.Attempts+1 == f.attempt && r.reason != f.reason {
			r.reason, changed = f.reason, true
		}
	case factPlaced:
		if j.Status != batch.StatusRunnable || j.Attempts+1 != f.attempt {
			t.Fatalf("placement of %s attempt %d does not apply to its record (%s, %d attempts)", f.id, f.attempt, j.Status, j.Attempts)
		}
		j.Status, j.Host, j.Env, r.reason, changed = batch.StatusStarting, f.host, f.env, "", true
	case factStarted:
		if j.Status == batch.StatusStarting && j.Attempts+1 == f.attempt {
			j.Status, changed = batch.StatusRunning, true
		}
	case factExited:
		if (j.Status == batch.StatusStarting || j.Status == batch.StatusRunning) && j.Attempts+1 == f.attempt {
			j.Attempts++
			switch {
			case f.success:
				j.Status, r.reason = batch.StatusSucceeded, ""
			case !f.noRetry && j.Attempts < r.maxAttempts:
				j.Status, r.reason, j.Host = batch.StatusRunnable, "", "" // the env name stays, as in the monitor
			default:
				j.Status, r.reason = batch.StatusFailed, "Essential container in task exited"
			}
			changed = true
		}
		if m.live[k] == nil {
			t.Fatalf("exit of %s attempt %d, which is not live", f.id, f.attempt)
		}
		delete(m.live, k)
	}
	if changed {
		m.upsert(r)
	}
}

// launch advances one live attempt on its host. outcome: 0 the container
// cannot start (retried or not), 1-3 exit 1, 4 timeout, 5-7 exit 0.
func (m *sim) launch(k attemptKey, outcome int) {
	a := m.live[k]
	switch a.stage {
	case 0:
		if outcome == 0 {
			m.stream = append(m.stream, simFact{kind: factExited, id: k.id, attempt: k.attempt, noRetry: k.attempt%2 == 0})
			a.stage = 2
			return
		}
		m.stream = append(m.stream, simFact{kind: factStarted, id: k.id, attempt: k.attempt})
		a.stage = 1
	case 1:
		f := simFact{kind: factExited, id: k.id, attempt: k.attempt}
		switch {
		case outcome <= 3:
		case outcome == 4:
			f.noRetry = true
		default:
			f.success = true
		}
		m.stream = append(m.stream, f)
		a.stage = 2
	}
}

func (m *sim) liveKeys(stage int) []attemptKey {
	var ks []attemptKey
	for k, a := range m.live {
		if a.stage <= stage {
			ks = append(ks, k)
		}
	}
	slices.SortFunc(ks, func(a, b attemptKey) int {
		if c := strings.Compare(a.id, b.id); c != 0 {
			return c
		}
		return a.attempt - b.attempt
	})
	return ks
}

// check holds after every step.
func (m *sim) check() {
	t := m.t
	_, hostUse := m.usage(attemptKey{})
	for id, u := range hostUse {
		h := m.s.Hosts[id]
		if u.vcpu > ToMilli(h.VCPUs) || u.mem > h.MemoryMiB || u.gpus > h.GPUs {
			t.Fatalf("host %s over capacity: %d mvCPU %d MiB %d GPUs", id, u.vcpu, u.mem, u.gpus)
		}
	}
	// The planner holds every live attempt where it was placed, so the
	// capacity it sees in use is the capacity in use.
	for k, a := range m.live {
		j := m.s.Jobs[k.id]
		if !j.occupies() || j.Host != a.host || j.Env != a.env {
			t.Fatalf("planner lost live attempt %s/%d on %s/%s: %+v", k.id, k.attempt, a.host, a.env, *j)
		}
	}
	for id, j := range m.s.Jobs {
		if !j.occupies() {
			continue
		}
		if m.live[attemptKey{id, j.Attempts + 1}] == nil {
			t.Fatalf("planner holds capacity for %s (%s) with no live attempt", id, j.Status)
		}
	}
}

func (m *sim) submitAll() {
	for _, i := range m.pending {
		m.submit(i)
	}
	m.pending = nil
}

// drain runs the system with every attempt succeeding until it is quiet,
// then checks that every job finished or can never run. With fixEnvs the
// operator first enables every environment.
func (m *sim) drain(fixEnvs bool) {
	t := m.t
	m.submitAll()
	for _, q := range m.s.Queues {
		q.Enabled = true
	}
	m.s.Touch()
	if fixEnvs {
		for _, e := range m.s.Envs {
			e.Enabled = true
		}
	}
	for round := 0; ; round++ {
		if round > 4*len(m.specs)+20 {
			t.Fatalf("not quiet after %d rounds", round)
		}
		m.pass()
		busy := len(m.stream) > 0 || len(m.live) > 0
		for len(m.stream) > 0 {
			m.apply()
		}
		for _, k := range m.liveKeys(1) {
			m.launch(k, 7)
		}
		for _, k := range m.liveKeys(1) {
			m.launch(k, 7)
		}
		for len(m.stream) > 0 {
			m.apply()
		}
		m.check()
		if !busy && len(m.live) == 0 {
			break
		}
	}
	for _, spec := range m.specs {
		r := m.recs[spec.ID]
		switch r.job.Status {
		case batch.StatusSucceeded, batch.StatusFailed:
		case batch.StatusRunnable:
			if m.feasible(&r.job) && m.limited(m.s.Jobs[spec.ID]) != "resource" {
				t.Fatalf("%s stuck RUNNABLE although it fits an idle system", spec.ID)
			}
		case batch.StatusPending:
			stuck := false
			for _, d := range r.job.DependsOn {
				switch m.recs[d].job.Status {
				case batch.StatusSucceeded:
				case batch.StatusFailed:
					t.Fatalf("%s PENDING although its dependency %s FAILED", spec.ID, d)
				default:
					stuck = true
				}
			}
			if !stuck {
				t.Fatalf("%s PENDING although its dependencies all SUCCEEDED", spec.ID)
			}
		default:
			t.Fatalf("%s left %s", spec.ID, r.job.Status)
		}
	}
}
