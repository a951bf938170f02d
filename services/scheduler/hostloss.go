package scheduler

import (
	"context"
	"errors"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/telemetry"
	"github.com/batchd/batchd/services/scheduler/internal/plan"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultHostLostAfter is how long a host may be silent (no heartbeat in
// the hosts bucket) before it is lost. It is longer than the bucket's TTL
// (bus.HostTTL), so a launcher restarted in place (batchd restarted, its
// containers still running) comes back before its jobs are given up.
const DefaultHostLostAfter = 30 * time.Second

// hostLoss finds lost hosts: the scheduler is the one service that knows
// both the hosts' heartbeats and where every job runs. A host is lost once
// it has been silent for the timeout; every attempt the records show
// STARTING or RUNNING on it (also one recorded there later, from a
// placement the host never took) is then stated lost (events.JobHostLost),
// for the monitor to fail and retry. The host is no longer lost once it
// heartbeats again.
type hostLoss struct {
	after time.Duration
	// seen is when each host was last heard of: a heartbeat, or a job
	// record that names it (so a host that went silent before this
	// scheduler started is timed from then).
	seen map[string]time.Time
	lost map[string]bool
	// pending are the losses to publish, by job id.
	pending map[string]events.JobHostLost
}

func newHostLoss(after time.Duration) *hostLoss {
	if after <= 0 {
		after = DefaultHostLostAfter
	}
	return &hostLoss{after: after, seen: map[string]time.Time{}, lost: map[string]bool{},
		pending: map[string]events.JobHostLost{}}
}

// heartbeat records that a host is alive.
func (h *hostLoss) heartbeat(host string, now time.Time) {
	h.seen[host] = now
	delete(h.lost, host)
}

// job notes a job record: one STARTING or RUNNING on a lost host is lost.
func (h *hostLoss) job(j *plan.Job, now time.Time) {
	if j.Host == "" || (j.Status != batch.StatusStarting && j.Status != batch.StatusRunning) {
		return
	}
	if _, ok := h.seen[j.Host]; !ok {
		h.seen[j.Host] = now
	}
	if h.lost[j.Host] {
		h.pending[j.ID] = events.JobHostLost{JobID: j.ID, Attempt: j.Attempts + 1, HostID: j.Host, Time: now.UnixMilli()}
	}
}

// candidates are the hosts silent past the timeout, not yet lost.
func (h *hostLoss) candidates(now time.Time) []string {
	var out []string
	for host, t := range h.seen {
		if !h.lost[host] && now.Sub(t) >= h.after {
			out = append(out, host)
		}
	}
	return out
}

// declare makes host lost, with every job the state shows STARTING or
// RUNNING on it.
func (h *hostLoss) declare(host string, st *plan.State, now time.Time) {
	h.lost[host] = true
	for _, j := range st.Jobs {
		if j.Host == host {
			h.job(j, now)
		}
	}
}

// declareLost runs the host-loss check and publishes the losses not yet
// stored; one whose publication fails is tried again on the next check.
func (s *scheduler) declareLost(ctx context.Context) {
	now := s.clock()
	for _, host := range s.loss.candidates(now) {
		// The bucket has the last word: a watch that stalled (NATS
		// restarting) must not make every host look lost. The entry
		// lives bus.HostTTL after the last heartbeat.
		if _, err := s.hosts.Get(ctx, host); err == nil {
			s.loss.heartbeat(host, now)
			continue
		} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
			s.log.Warn("host-loss check: read host", "host", host, "err", err)
			continue
		}
		s.log.Warn("host lost: its attempts fail", "host", host, "silentFor", s.loss.after)
		s.loss.declare(host, s.state, now)
	}
	if len(s.loss.pending) == 0 {
		return
	}
	type sent struct {
		f  jetstream.PubAckFuture
		ev events.JobHostLost
	}
	var futures []sent
	for id, ev := range s.loss.pending {
		jctx := ctx
		if j := s.state.Jobs[id]; j != nil {
			jctx = telemetry.WithTraceParent(ctx, j.Trace)
		}
		f, err := bus.PublishAsync(jctx, s.js, ev)
		if err != nil {
			s.log.Error("publish host loss", telemetry.LogJobID, id, "err", err)
			continue
		}
		futures = append(futures, sent{f, ev})
		delete(s.loss.pending, id)
	}
	for _, p := range futures {
		select {
		case <-p.f.Ok():
		case err := <-p.f.Err():
			s.log.Error("publish host loss", telemetry.LogJobID, p.ev.JobID, "err", err)
			if _, again := s.loss.pending[p.ev.JobID]; !again {
				s.loss.pending[p.ev.JobID] = p.ev
			}
		case <-ctx.Done():
			return
		}
	}
}
