package monitor

import (
	"context"
	"fmt"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/telemetry"
)

// giveUp runs when a fact could not be applied in all its deliveries: the
// job it is about keeps a reason saying so (statusReason, its status
// unchanged), so that what went wrong is visible on the job, not only in
// a log.
func (m *monitor) giveUp(ctx context.Context, ev events.Event, d *bus.Delivery, cause error) {
	k, ok := ev.(events.Keyed)
	if !ok {
		return
	}
	reason := truncate(fmt.Sprintf("batchd: the monitor gave up on %s after %d deliveries: %v", ev.Type(), d.NumDelivered, cause), 255)
	_, err := m.update(ctx, nil, k.Key(), func(j *batch.JobDetail) bool {
		if j.Status.Final() || j.StatusReason == reason {
			return false
		}
		j.StatusReason = reason
		return true
	})
	if err != nil {
		m.log.ErrorContext(ctx, "leave the give-up reason on the job", telemetry.LogJobID, k.Key(), "err", err)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
