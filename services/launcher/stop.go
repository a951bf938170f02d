package launcher

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go/jetstream"
)

// stopPrefix starts the subjects of JobStop messages.
const stopPrefix = "batch.job.stop."

// attemptRun is an attempt this launcher supervises. A stop (TerminateJob)
// can arrive before its container runs: it is remembered and carried out
// as soon as the container is known.
type attemptRun struct {
	mu       sync.Mutex
	stopFn   func(reason string)
	reason   string
	stopping bool
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
func (l *launcher) onStop(_ context.Context, msg jetstream.Msg) {
	var s events.JobStop
	if err := json.Unmarshal(msg.Data(), &s); err != nil {
		l.log.Error("launcher: bad stop", "subject", msg.Subject(), "err", err)
		_ = msg.TermWithReason("undecodable stop")
		return
	}
	if run := l.supervised(s.JobID, s.Attempt); run != nil {
		run.stop(s.Reason)
	}
	_ = msg.Ack()
}
