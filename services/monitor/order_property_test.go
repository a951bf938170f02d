package monitor

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"pgregory.net/rapid"
)

// TestPerJobOrderProperty: a monitor applying facts with many workers
// ends every job exactly where applying its facts one by one, in stream
// order, ends it (apply.go), whatever the interleaving of the jobs' facts
// in the stream. Facts of one job are drawn so that their order matters
// (attempts, retries, cancels and terminations in any order).
func TestPerJobOrderProperty(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Workers = 8
	cfg.BlockedAfter = 0
	r := startMonitor(t, cfg, nil)
	var round atomic.Int64
	rapid.Check(t, func(rt *rapid.T) {
		n := round.Add(1)
		jobs := rapid.IntRange(1, 6).Draw(rt, "jobs")
		type jobFacts struct {
			id    string
			facts []events.Event
		}
		var all []jobFacts
		for i := range jobs {
			id := fmt.Sprintf("r%d-j%d", n, i)
			used := map[string]bool{}
			var fs []events.Event
			state := orderJob(id)
			state.Attempts, state.DependsOn = []batch.AttemptDetail{}, []batch.JobDependency{}
			for range rapid.IntRange(1, 9).Draw(rt, "facts") {
				f := drawFact(rt, id)
				if k := f.MsgID(); k != "" && used[k] {
					continue // JetStream would store it once
				} else if k != "" {
					used[k] = true
				}
				if p, ok := f.(events.JobPlaced); ok && placedBeforeGate(state, p) {
					continue // applied after its gate, not in stream order (TestPlacementBeforeItsGate)
				}
				applyFact(t, &state, f)
				fs = append(fs, f)
			}
			all = append(all, jobFacts{id, fs})
		}
		// Submits first (a fact of a job without a record waits for it),
		// then the facts, interleaved at random, each job's in its order.
		for _, j := range all {
			r.submit(orderJob(j.id))
		}
		next := make([]int, len(all))
		for {
			var open []int
			for i, j := range all {
				if next[i] < len(j.facts) {
					open = append(open, i)
				}
			}
			if len(open) == 0 {
				break
			}
			i := open[rapid.IntRange(0, len(open)-1).Draw(rt, "pick")]
			r.publish(all[i].facts[next[i]])
			next[i]++
		}
		r.quiesce()
		for _, j := range all {
			want := orderJob(j.id)
			want.Attempts, want.DependsOn = []batch.AttemptDetail{}, []batch.JobDependency{}
			for _, f := range j.facts {
				applyFact(t, &want, f)
			}
			got, err := r.get(j.id)
			if err != nil {
				rt.Fatalf("job %s: %v", j.id, err)
			}
			if d := orderDiff(got, want); d != "" {
				rt.Fatalf("job %s after %d facts: %s", j.id, len(j.facts), d)
			}
		}
	})
}

func orderJob(id string) batch.JobDetail {
	j := newJob(id)
	j.RetryStrategy = &batch.RetryStrategy{Attempts: 3}
	return j
}

// drawFact is one fact about job id, of any kind the record rules order.
func drawFact(rt *rapid.T, id string) events.Event {
	attempt := rapid.IntRange(1, 3).Draw(rt, "attempt")
	host := rapid.SampledFrom([]string{"h1", "h2"}).Draw(rt, "host")
	switch rapid.IntRange(0, 7).Draw(rt, "kind") {
	case 0:
		st := rapid.SampledFrom([]batch.JobStatus{batch.StatusPending, batch.StatusRunnable, batch.StatusFailed}).Draw(rt, "gate")
		return events.JobGated{JobID: id, Status: st, Reason: "gate " + string(st), Time: 5}
	case 1, 2:
		return events.JobPlaced{JobID: id, Attempt: attempt, HostID: host, ComputeEnvironment: "ce", JobQueue: "q", Time: 6}
	case 3:
		return events.JobStarted{JobID: id, Attempt: attempt, HostID: host, ContainerID: "c" + host, StartedAt: 10}
	case 4:
		code := rapid.IntRange(0, 1).Draw(rt, "code")
		return events.JobExited{JobID: id, Attempt: attempt, HostID: host, ContainerID: "c" + host, ExitCode: &code, StoppedAt: 20}
	case 5:
		return events.JobWaiting{JobID: id, Attempt: attempt, Reason: rapid.SampledFrom([]string{"w1", "w2"}).Draw(rt, "why")}
	case 6:
		return events.JobCancel{JobID: id, Reason: "cancelled", Time: int64(rapid.IntRange(1, 3).Draw(rt, "t"))}
	default:
		return events.JobTerminate{JobID: id, Reason: "terminated", Time: int64(rapid.IntRange(1, 3).Draw(rt, "t"))}
	}
}

// orderDiff names what differs between the record and the expected one.
func orderDiff(got, want batch.JobDetail) string {
	codes := func(j batch.JobDetail) []string {
		var out []string
		for _, a := range j.Attempts {
			c := "-"
			if a.Container != nil && a.Container.ExitCode != nil {
				c = fmt.Sprint(*a.Container.ExitCode)
			}
			out = append(out, c+":"+a.StatusReason)
		}
		return out
	}
	switch {
	case got.Status != want.Status:
		return fmt.Sprintf("status %s, want %s", got.Status, want.Status)
	case got.StatusReason != want.StatusReason:
		return fmt.Sprintf("statusReason %q, want %q", got.StatusReason, want.StatusReason)
	case !slices.Equal(codes(got), codes(want)):
		return fmt.Sprintf("attempts %v, want %v", codes(got), codes(want))
	case got.HostID != want.HostID || got.IsCancelled != want.IsCancelled || got.IsTerminated != want.IsTerminated:
		return fmt.Sprintf("host %q cancelled %v terminated %v, want %q %v %v", got.HostID, got.IsCancelled, got.IsTerminated,
			want.HostID, want.IsCancelled, want.IsTerminated)
	}
	return ""
}

// quiesce waits until the monitor has applied every fact stored so far.
func (r *monRig) quiesce() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	quiet := 0
	for quiet < 2 {
		n, consumers, err := bus.Backlog(ctx, r.js, events.StreamJobs, "monitor-")
		if err != nil || consumers < events.JobPartitions || n > 0 {
			quiet = 0 // not made yet, or facts left
		} else {
			quiet++
		}
		select {
		case <-ctx.Done():
			r.t.Fatal("the monitor did not apply every fact within 30 s")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
