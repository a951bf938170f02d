package launcher

import (
	"context"
	"strconv"
	"sync"

	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/telemetry"
)

// attemptRun is an attempt this launcher supervises. A stop (TerminateJob)
// can arrive before its container runs: it is remembered and carried out
// as soon as the container is known.
type attemptRun struct {
	mu       sync.Mutex
	stopFn   func(reason string)
	reason   string
	stopping bool
	// abandoned: the attempt was given up (its host was lost); its exit is
	// not reported.
	abandoned bool
}

// attach gives the run the way to stop its container; a stop asked for
// earlier is carried out now.
func (a *attemptRun) attach(stop func(reason string)) {
	a.mu.Lock()
	a.stopFn = stop
	pending, reason := a.stopping, a.reason
	a.mu.Unlock()
	if pending {
		go stop(reason)
	}
}

// stop asks for the container to be stopped, once.
func (a *attemptRun) stop(reason string) {
	a.mu.Lock()
	if a.stopping {
		a.mu.Unlock()
		return
	}
	a.stopping, a.reason = true, reason
	fn := a.stopFn
	a.mu.Unlock()
	if fn != nil {
		go fn(reason)
	}
}

// abandon stops the container of an attempt that was given up; its exit
// will not be reported.
func (a *attemptRun) abandon(reason string) {
	a.mu.Lock()
	a.abandoned = true
	a.mu.Unlock()
	a.stop(reason)
}

// isAbandoned reports whether the attempt was given up.
func (a *attemptRun) isAbandoned() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.abandoned
}

// stopped reports whether the attempt was stopped, and why.
func (a *attemptRun) stopped() (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.reason, a.stopping
}

// onStop stops the container of a terminated job's attempt (SIGTERM, then
// SIGKILL after the grace period). An attempt this launcher does not
// supervise has no container here: its placement, if it comes, reads the
// record, sees the termination and starts nothing.
func (l *launcher) onStop(_ context.Context, s events.JobStop, _ *bus.Delivery) error {
	run := l.supervised(s.JobID, s.Attempt)
	switch {
	case run != nil && s.Abandon:
		run.abandon(s.Reason)
	case run != nil:
		run.stop(s.Reason)
	case s.Abandon:
		// Not supervised: remove whatever container of it is left.
		l.removeAbandoned(context.Background(), s.JobID, s.Attempt)
	}
	return nil
}

// removeAbandoned removes the containers of a given-up attempt that this
// launcher does not supervise, reporting nothing.
func (l *launcher) removeAbandoned(ctx context.Context, job string, attempt int) {
	cs, err := l.rt.List(ctx, map[string]string{labelHost: l.cfg.HostID, labelJob: job, labelAttempt: strconv.Itoa(attempt)})
	if err != nil {
		l.log.Warn("list containers of an abandoned attempt", telemetry.LogJobID, job, "err", err)
		return
	}
	for _, c := range cs {
		if pod := c.Labels[labelPod]; pod != "" {
			if err := l.rt.RemovePod(ctx, pod); err != nil {
				l.log.Warn("remove pod", telemetry.LogJobID, job, "err", err)
			}
			continue
		}
		l.log.Info("removing the container of an attempt given up", telemetry.LogJobID, job, "attempt", attempt, "container", c.ID)
		if err := l.rt.Remove(ctx, c.ID); err != nil {
			l.log.Warn("remove container", telemetry.LogJobID, job, "err", err)
		}
	}
}
