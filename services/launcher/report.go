package launcher

import (
	"context"
	"time"

	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
)

// report stores a fact about an attempt (started, exited), trying again
// until it is stored or the launcher stops: a fact that failed once must
// not leave its job STARTING or RUNNING until a restart. The fact's
// message id makes a repeat harmless.
func (l *launcher) report(ctx context.Context, ev events.Event) error {
	wait := 100 * time.Millisecond
	for {
		_, err := bus.Publish(ctx, l.js, ev)
		if err == nil || ctx.Err() != nil {
			return err
		}
		l.log.WarnContext(ctx, "report failed, trying again", "subject", ev.Subject(), "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}
