package monitor

import (
	"context"
	"time"
)

// periodically runs scan once the monitor's view of the job records is
// loaded and then every interval, until ctx ends. The time limits, the
// history sweep and the blocked-job events are such scans.
func (m *monitor) periodically(ctx context.Context, interval time.Duration, scan func(context.Context)) {
	select {
	case <-ctx.Done():
		return
	case <-m.view.ready:
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		scan(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
