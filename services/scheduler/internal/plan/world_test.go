package plan

import (
	"fmt"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

// world is a planner plus the job records the monitor would keep: every
// decision the planner makes is applied to the record the way the monitor
// applies it, and the record is fed back with Upsert, as the scheduler's
// KV watcher does.
type world struct {
	tb   tester
	s    *State
	recs map[string]Job
}

// tester is what the world needs of *testing.T, *testing.B and *rapid.T.
type tester interface {
	Helper()
	Fatalf(format string, args ...any)
}

func newWorld(tb tester) *world {
	return &world{tb: tb, s: NewState(), recs: map[string]Job{}}
}

func (w *world) env(name string, maxVCPU float64) *world {
	w.s.Envs[name] = &Env{Name: name, Enabled: true, MaxVCPU: ToMilli(maxVCPU)}
	return w
}

func (w *world) host(id string, vcpus float64, mem int64, envs ...string) *world {
	w.s.Hosts[id] = &events.Host{ID: id, Name: id, VCPUs: vcpus, MemoryMiB: mem, ComputeEnvironments: envs}
	return w
}

func (w *world) queue(name string, prio int, envs ...string) *world {
	w.s.Queues[name] = &Queue{Name: name, Enabled: true, Priority: prio, Envs: envs}
	return w
}

// upsert stores rec as the record and tells the planner.
func (w *world) upsert(rec Job) {
	w.recs[rec.ID] = rec
	w.s.Upsert(rec)
}

// submit creates a SUBMITTED record.
func (w *world) submit(id, queue string, seq uint64, vcpu float64, mem int64, deps ...string) {
	w.upsert(Job{ID: id, Queue: queue, Seq: seq, Status: batch.StatusSubmitted, VCPU: ToMilli(vcpu), MemoryMiB: mem, DependsOn: deps})
}

// runnable creates a record that is already RUNNABLE.
func (w *world) runnable(id, queue string, seq uint64, vcpu float64, mem int64) {
	w.upsert(Job{ID: id, Queue: queue, Seq: seq, Status: batch.StatusRunnable, VCPU: ToMilli(vcpu), MemoryMiB: mem})
}

// set moves a record to st and tells the planner.
func (w *world) set(id string, st batch.JobStatus) {
	w.tb.Helper()
	rec, ok := w.recs[id]
	if !ok {
		w.tb.Fatalf("no record %s", id)
	}
	rec.Status = st
	w.upsert(rec)
}

// gates runs Gates and applies each gate to its record.
func (w *world) gates() map[string]Gate {
	out := map[string]Gate{}
	for _, g := range w.s.Gates() {
		out[g.Job.ID] = g
		rec := w.recs[g.Job.ID]
		rec.Status = g.Status
		w.upsert(rec)
	}
	return out
}

// place runs Place without confirming anything.
func (w *world) place() ([]Placement, []Wait) { return w.s.Place() }

// start applies a placement to its record (RUNNABLE -> STARTING).
func (w *world) start(p Placement) {
	w.tb.Helper()
	rec := w.recs[p.Job.ID]
	if rec.Status != batch.StatusRunnable || rec.Attempts+1 != p.Attempt {
		w.tb.Fatalf("placement %s attempt %d on record %s attempts %d", p.Job.ID, p.Attempt, rec.Status, rec.Attempts)
	}
	rec.Status, rec.Host, rec.Env = batch.StatusStarting, p.Host, p.Env
	w.upsert(rec)
}

// startAll places and starts everything that fits; it returns the ids placed.
func (w *world) startAll() []string {
	w.tb.Helper()
	places, _ := w.place()
	var ids []string
	for _, p := range places {
		w.start(p)
		ids = append(ids, p.Job.ID)
	}
	return ids
}

// retry ends the running attempt with a retry (record back to RUNNABLE).
func (w *world) retry(id string) {
	rec := w.recs[id]
	rec.Status, rec.Attempts, rec.Host = batch.StatusRunnable, rec.Attempts+1, ""
	w.upsert(rec)
}

// finish ends the running attempt for good.
func (w *world) finish(id string, st batch.JobStatus) {
	rec := w.recs[id]
	rec.Status, rec.Attempts = st, rec.Attempts+1
	w.upsert(rec)
}

func ids(places []Placement) []string {
	out := make([]string, 0, len(places))
	for _, p := range places {
		out = append(out, p.Job.ID)
	}
	return out
}

func waitsOf(waits []Wait) map[string]string {
	out := map[string]string{}
	for _, wt := range waits {
		out[wt.Job.ID] = wt.Reason
	}
	return out
}

func jobIDs(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%02d", prefix, i+1)
	}
	return out
}
