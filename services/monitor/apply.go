package monitor

import (
	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

// Reasons set on jobs.
const (
	reasonEssentialExited = "Essential container in task exited"
)

// The apply functions are the job state machine. Each takes the current
// record and a fact and reports whether the record changed; a fact that no
// longer applies changes nothing.

func applyGate(j *batch.JobDetail, f events.JobGated) bool {
	switch {
	case f.Status != batch.StatusPending && f.Status != batch.StatusRunnable && f.Status != batch.StatusFailed:
		return false
	case j.Status != batch.StatusSubmitted && j.Status != batch.StatusPending:
		return false
	case f.Status == j.Status:
		return false
	case f.Status == batch.StatusPending && j.Status != batch.StatusSubmitted:
		return false
	}
	j.Status = f.Status
	j.StatusReason = f.Reason
	if f.Status == batch.StatusFailed {
		j.StoppedAt = f.Time
	}
	return true
}

func applyWaiting(j *batch.JobDetail, f events.JobWaiting) bool {
	if j.Status != batch.StatusRunnable || len(j.Attempts)+1 != f.Attempt || j.StatusReason == f.Reason {
		return false
	}
	j.StatusReason = f.Reason
	return true
}

func applyPlaced(j *batch.JobDetail, f events.JobPlaced) bool {
	if j.Status != batch.StatusRunnable || len(j.Attempts)+1 != f.Attempt {
		return false
	}
	j.Status = batch.StatusStarting
	j.StatusReason = ""
	j.HostID = f.HostID
	j.ComputeEnvironmentName = f.ComputeEnvironment
	return true
}

func applyStarted(j *batch.JobDetail, f events.JobStarted) bool {
	if j.Status != batch.StatusStarting || len(j.Attempts)+1 != f.Attempt {
		return false
	}
	j.Status = batch.StatusRunning
	j.StartedAt = f.StartedAt
	if j.Container == nil {
		j.Container = &batch.ContainerDetail{}
	}
	j.Container.TaskArn = f.ContainerID
	j.Container.LogStreamName = events.LogSubject(j.JobID, f.Attempt)
	j.Container.ExitCode = nil
	j.Container.Reason = ""
	return true
}

func applyExited(j *batch.JobDetail, f events.JobExited) bool {
	if (j.Status != batch.StatusStarting && j.Status != batch.StatusRunning) || len(j.Attempts)+1 != f.Attempt {
		return false
	}
	statusReason := f.StatusReason
	if statusReason == "" && f.ExitCode != nil && *f.ExitCode != 0 {
		statusReason = reasonEssentialExited
	}
	startedAt := f.StartedAt
	if startedAt == 0 && j.Status == batch.StatusRunning {
		startedAt = j.StartedAt
	}
	j.Attempts = append(j.Attempts, batch.AttemptDetail{
		Container: &batch.AttemptContainerDetail{
			TaskArn: f.ContainerID, ExitCode: f.ExitCode, Reason: f.Reason,
			LogStreamName: events.LogSubject(j.JobID, f.Attempt),
		},
		StartedAt: startedAt, StoppedAt: f.StoppedAt, StatusReason: statusReason,
	})
	if j.Container == nil {
		j.Container = &batch.ContainerDetail{}
	}
	j.Container.ExitCode = f.ExitCode
	j.Container.Reason = f.Reason
	j.Container.LogStreamName = events.LogSubject(j.JobID, f.Attempt)
	if startedAt != 0 {
		j.StartedAt = startedAt
	}
	succeeded := f.ExitCode != nil && *f.ExitCode == 0 && f.StatusReason == ""
	switch {
	case succeeded:
		j.Status = batch.StatusSucceeded
		j.StatusReason = ""
		j.StoppedAt = f.StoppedAt
	case !f.NoRetry && shouldRetry(j.RetryStrategy, len(j.Attempts), f.ExitCode, f.Reason, statusReason):
		j.Status = batch.StatusRunnable
		j.StatusReason = ""
		j.HostID = ""
	default:
		j.Status = batch.StatusFailed
		j.StatusReason = statusReason
		j.StoppedAt = f.StoppedAt
	}
	return true
}
