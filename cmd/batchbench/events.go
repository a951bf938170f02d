package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go"
)

// seen is one state change event of a tracked job as the bench received it.
type seen struct {
	status   string
	decided  time.Time // Batch-Decided-At: when the monitor stored the change
	received time.Time // when this subscriber got the event
}

// recorder follows every job state change event (batch.events.job.>): it
// counts events per queue and status, and keeps the events of the jobs of
// the tracked queues, in the order received.
type recorder struct {
	sub *nats.Subscription

	mu      sync.Mutex
	counts  map[string]int // "<queue>.<status>"
	tracked map[string]bool
	jobs    map[string][]seen
	lags    []time.Duration // received - decided, tracked queues only
	bad     int             // tracked events without a decision time
	changed chan struct{}
}

func newRecorder(nc *nats.Conn, tracked ...string) (*recorder, error) {
	r := &recorder{counts: map[string]int{}, tracked: map[string]bool{}, jobs: map[string][]seen{}, changed: make(chan struct{})}
	for _, q := range tracked {
		r.tracked[q] = true
	}
	sub, err := nc.Subscribe(events.SubjectJobEventsAll, r.onEvent)
	if err != nil {
		return nil, err
	}
	// The backlog phase sends hundreds of thousands of events.
	_ = sub.SetPendingLimits(-1, -1)
	r.sub = sub
	return r, nil
}

func (r *recorder) onEvent(m *nats.Msg) {
	now := time.Now()
	// batch.events.job.<queue>.<status>
	rest := strings.TrimPrefix(m.Subject, "batch.events.job.")
	i := strings.LastIndexByte(rest, '.')
	if i < 0 {
		return
	}
	queue, status := rest[:i], rest[i+1:]
	r.mu.Lock()
	r.counts[queue+"."+status]++
	track := r.tracked[queue]
	r.mu.Unlock()
	if track {
		var ev struct {
			Detail struct {
				JobID string `json:"jobId"`
			} `json:"detail"`
		}
		_ = json.Unmarshal(m.Data, &ev)
		decided, err := time.Parse(time.RFC3339Nano, m.Header.Get(events.HeaderDecidedAt))
		r.mu.Lock()
		if err != nil {
			r.bad++
		} else {
			r.lags = append(r.lags, now.Sub(decided))
		}
		r.jobs[ev.Detail.JobID] = append(r.jobs[ev.Detail.JobID], seen{status: status, decided: decided, received: now})
		r.mu.Unlock()
	}
	r.mu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

func (r *recorder) count(queue, status string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[queue+"."+status]
}

// final counts the jobs of a queue that ended.
func (r *recorder) final(queue string) (succeeded, failed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[queue+".SUCCEEDED"], r.counts[queue+".FAILED"]
}

// history returns a tracked job's events.
func (r *recorder) history(job string) []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.jobs[job]...)
}

// event returns the first event of a job with the status.
func (r *recorder) event(job, status string) (seen, bool) {
	for _, e := range r.history(job) {
		if e.status == status {
			return e, true
		}
	}
	return seen{}, false
}

// takeLags returns and forgets the event lags gathered so far.
func (r *recorder) takeLags() ([]time.Duration, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, b := r.lags, r.bad
	r.lags, r.bad = nil, 0
	return l, b
}

// waitFor returns once cond holds (checked after every event and every
// 200 ms), or with ctx's error.
func (r *recorder) waitFor(ctx context.Context, cond func() bool) error {
	for {
		r.mu.Lock()
		ch := r.changed
		r.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		case <-time.After(200 * time.Millisecond):
		}
	}
}
