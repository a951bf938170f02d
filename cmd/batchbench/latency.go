package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

// latency measures runnable_to_running: latencyJobs jobs of `sleep` are
// submitted at once to a queue whose environment holds concurrency of
// them, so the first ones find free capacity and the rest wait for a
// running one to end. For each job:
//
//	free    = when its RUNNABLE state was stored, or, for a job that had to
//	          wait, when the container whose end made room for it stopped
//	          (Podman's FinishedAt, the job's stoppedAt), whichever is later
//	running = when its RUNNING state was stored
//	own     = Podman's own start time of its container: State.StartedAt -
//	          Created from Podman's inspect, read while it runs
//	figure  = running - free - own
func (b *bench) latency(ctx context.Context) error {
	c, n := b.cfg.concurrency, b.cfg.latencyJobs
	ids, err := b.submitMany(ctx, queueLatency, defSleep, n, 1)
	if err != nil {
		return err
	}
	// Read each container's start times from Podman while it runs.
	type startTimes struct{ created, started time.Time }
	var mu sync.Mutex
	own := map[string]startTimes{}
	var inspectErr error
	var wg sync.WaitGroup
	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, id := range ids {
		wg.Go(func() {
			if err := b.rec.waitFor(ictx, func() bool { _, ok := b.rec.event(id, "RUNNING"); return ok }); err != nil {
				return
			}
			name := fmt.Sprintf("batch-%s-1", events.Token(id))
			cr, st, err := b.pm.startTimes(ictx, name)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if inspectErr == nil {
					inspectErr = err
				}
				return
			}
			own[id] = startTimes{cr, st}
		})
	}
	if err := b.waitFinal(ctx, queueLatency, ids, time.Duration(n)*b.cfg.latencySleep+5*time.Minute); err != nil {
		return err
	}
	wg.Wait()
	if inspectErr != nil {
		return fmt.Errorf("inspect a running container: %w", inspectErr)
	}
	jobs, err := b.describe(ctx, ids)
	if err != nil {
		return err
	}

	type job struct {
		id                          string
		runnable, starting, running time.Time
		stopped, final              time.Time
	}
	var list []job
	var stops []job // the same jobs, in the order their containers stopped
	for _, id := range ids {
		j := job{id: id}
		for status, t := range map[string]*time.Time{"RUNNABLE": &j.runnable, "STARTING": &j.starting, "RUNNING": &j.running} {
			e, ok := b.rec.event(id, status)
			if !ok || e.decided.IsZero() {
				return fmt.Errorf("job %s: no %s event with a decision time", id, status)
			}
			*t = e.decided
		}
		d, ok := jobs[id]
		if !ok || d.StoppedAt == 0 {
			return fmt.Errorf("job %s: DescribeJobs gives no stoppedAt", id)
		}
		j.stopped = time.UnixMilli(d.StoppedAt)
		if e, ok := b.rec.event(id, "SUCCEEDED"); ok {
			j.final = e.decided
		}
		list = append(list, j)
	}
	stops = slices.Clone(list)
	slices.SortFunc(list, func(a, b job) int { return a.starting.Compare(b.starting) })
	slices.SortFunc(stops, func(a, b job) int { return a.stopped.Compare(b.stopped) })
	var figures, raw, owns, exitToFinal, finalToStarting, startingToRunning []time.Duration
	for r, j := range list {
		free := j.runnable
		if r >= c && stops[r-c].stopped.After(free) {
			prev := stops[r-c]
			free = prev.stopped
			exitToFinal = append(exitToFinal, prev.final.Sub(prev.stopped))
			finalToStarting = append(finalToStarting, j.starting.Sub(prev.final))
		}
		startingToRunning = append(startingToRunning, j.running.Sub(j.starting))
		o := own[j.id]
		ownStart := o.started.Sub(o.created)
		figures = append(figures, j.running.Sub(free)-ownStart)
		raw = append(raw, j.running.Sub(free))
		owns = append(owns, ownStart)
	}
	f := b.res.Figures
	f["runnable_to_running_p50_ms"] = round(percentile(figures, 50), 1)
	f["runnable_to_running_p99_ms"] = round(percentile(figures, 99), 1)
	f["runnable_to_running_raw_p50_ms"] = round(percentile(raw, 50), 1)
	f["container_own_start_p50_ms"] = round(percentile(owns, 50), 1)
	// Where the time goes, for the jobs that waited for capacity: the
	// previous container's exit to its SUCCEEDED being stored, that to this
	// job's STARTING (the scheduler placed it), and STARTING to RUNNING
	// (the launcher created and started the container).
	f["exit_to_succeeded_p50_ms"] = round(percentile(exitToFinal, 50), 1)
	f["succeeded_to_starting_p50_ms"] = round(percentile(finalToStarting, 50), 1)
	f["starting_to_running_p50_ms"] = round(percentile(startingToRunning, 50), 1)
	f["latency_jobs"] = n
	return nil
}

// describe reads jobs with DescribeJobs over HTTP, 100 at a time.
func (b *bench) describe(ctx context.Context, ids []string) (map[string]batch.JobDetail, error) {
	out := map[string]batch.JobDetail{}
	for len(ids) > 0 {
		k := min(100, len(ids))
		var res batch.DescribeJobsOutput
		if err := b.cl.call(ctx, "DescribeJobs", batch.DescribeJobsInput{Jobs: ids[:k]}, &res); err != nil {
			return nil, err
		}
		for _, j := range res.Jobs {
			out[j.JobID] = j
		}
		ids = ids[k:]
	}
	return out, nil
}
