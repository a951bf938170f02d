package monitor

import (
	"context"
	"fmt"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
)

// hostLost applies the loss of a job's host (applyHostLost) and, when it
// gave the attempt up, tells that host's launcher, should it come back, to
// remove the attempt's container without reporting it.
func (m *monitor) hostLost(ctx context.Context, f events.JobHostLost, fa *fact) error {
	changed := false
	job, err := m.update(ctx, fa, f.JobID, func(j *batch.JobDetail) bool {
		changed = applyHostLost(j, f)
		return changed
	})
	if err != nil {
		return err
	}
	if job.IsNode() {
		// The main node's loss ends its job's attempt.
		if err := m.onNodeExited(ctx, job, f.Attempt, false, nil, fa); err != nil {
			return err
		}
	}
	if !changed && (len(job.Attempts) < f.Attempt || job.Attempts[f.Attempt-1].StatusReason != events.HostLostReason(f.HostID)) {
		return nil
	}
	ev := events.JobStop{JobID: f.JobID, Attempt: f.Attempt, HostID: f.HostID, Reason: events.HostLostReason(f.HostID), Abandon: true}
	if _, err := bus.Publish(ctx, m.js, ev); err != nil {
		return fmt.Errorf("abandon %s on lost host %s: %w", f.JobID, f.HostID, err)
	}
	return nil
}
