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
	case j.IsArrayParent():
		return false // the parent's status follows its children
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

// applyStarted and applyExited apply a fact only from the host the record
// placed the attempt on: a start or exit reported by any other host (a
// forged or confused one) changes nothing.
func applyStarted(j *batch.JobDetail, f events.JobStarted) bool {
	if j.Status != batch.StatusStarting || len(j.Attempts)+1 != f.Attempt || f.HostID != j.HostID {
		return false
	}
	j.Status = batch.StatusRunning
	j.StartedAt = f.StartedAt
	if t := j.EcsProperties.Task(); t != nil {
		taskStarted(t, j.JobID, f)
		return true
	}
	if j.Container == nil {
		j.Container = &batch.ContainerDetail{}
	}
	j.Container.TaskArn = f.ContainerID
	j.Container.LogStreamName = events.LogSubject(j.JobID, f.Attempt)
	j.Container.ExitCode = nil
	j.Container.Reason = ""
	j.Container.PullStartedAt, j.Container.PullStoppedAt = f.PullStartedAt, f.PullStoppedAt
	return true
}

func applyExited(j *batch.JobDetail, f events.JobExited) bool {
	if (j.Status != batch.StatusStarting && j.Status != batch.StatusRunning) || len(j.Attempts)+1 != f.Attempt || f.HostID != j.HostID {
		return false
	}
	statusReason := f.StatusReason
	if statusReason == "" && f.ExitCode != nil && *f.ExitCode != 0 {
		statusReason = reasonEssentialExited
	}
	startedAt := f.StartedAt
	pullStarted, pullStopped := f.PullStartedAt, f.PullStoppedAt
	if j.Status == batch.StatusRunning {
		if startedAt == 0 {
			startedAt = j.StartedAt
		}
		if pullStarted == 0 && j.Container != nil {
			pullStarted, pullStopped = j.Container.PullStartedAt, j.Container.PullStoppedAt
		}
	}
	if t := j.EcsProperties.Task(); t != nil {
		j.Attempts = append(j.Attempts, batch.AttemptDetail{TaskProperties: taskExited(t, j.JobID, f),
			StartedAt: startedAt, StoppedAt: f.StoppedAt, StatusReason: statusReason})
	} else {
		j.Attempts = append(j.Attempts, batch.AttemptDetail{
			Container: &batch.AttemptContainerDetail{
				TaskArn: f.ContainerID, ExitCode: f.ExitCode, Reason: f.Reason,
				LogStreamName:        events.LogSubject(j.JobID, f.Attempt),
				ContainerInstanceArn: batch.ContainerInstanceARN(j.HostID),
				PullStartedAt:        pullStarted, PullStoppedAt: pullStopped,
			},
			StartedAt: startedAt, StoppedAt: f.StoppedAt, StatusReason: statusReason,
		})
		if j.Container == nil {
			j.Container = &batch.ContainerDetail{}
		}
		j.Container.PullStartedAt, j.Container.PullStoppedAt = pullStarted, pullStopped
		j.Container.ExitCode = f.ExitCode
		j.Container.Reason = f.Reason
		j.Container.LogStreamName = events.LogSubject(j.JobID, f.Attempt)
	}
	if startedAt != 0 {
		j.StartedAt = startedAt
	}
	succeeded := f.ExitCode != nil && *f.ExitCode == 0 && f.StatusReason == ""
	switch {
	case j.IsTerminated:
		// TerminateJob stopped it: FAILED with the caller's reason, never
		// retried, whatever the exit code.
		reason := j.StatusReason
		if reason == "" {
			reason = statusReason
		}
		j.Attempts[len(j.Attempts)-1].StatusReason = reason
		j.Status = batch.StatusFailed
		j.StatusReason = reason
		j.StoppedAt = f.StoppedAt
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

// cancellable reports whether CancelJob still fails the job: it has not
// been placed on a host yet.
func cancellable(st batch.JobStatus) bool {
	return st == batch.StatusSubmitted || st == batch.StatusPending || st == batch.StatusRunnable
}

// applyCancel is CancelJob on one job (an array parent only records the
// request; its children are cancelled one by one). A job that is
// STARTING, RUNNING or final is left alone, as AWS does.
func applyCancel(j *batch.JobDetail, f events.JobCancel) bool {
	if j.IsArrayParent() {
		if j.Status.Final() || j.IsCancelled || j.IsTerminated {
			return false
		}
		j.IsCancelled = true
		j.StatusReason = f.Reason
		return true
	}
	if !cancellable(j.Status) {
		return false
	}
	j.Status = batch.StatusFailed
	j.StatusReason = f.Reason
	j.IsCancelled = true
	j.StoppedAt = f.Time
	return true
}

// applyTerminate is TerminateJob on one job. Before STARTING the job fails
// at once; a STARTING or RUNNING job is marked terminated and fails when
// its attempt ends (the launcher stops the container).
func applyTerminate(j *batch.JobDetail, f events.JobTerminate) bool {
	switch {
	case j.Status.Final(), j.IsTerminated:
		return false
	case j.IsArrayParent():
		j.IsTerminated = true
		j.StatusReason = f.Reason
		return true
	case cancellable(j.Status):
		j.Status = batch.StatusFailed
		j.StoppedAt = f.Time
	}
	j.IsTerminated = true
	j.StatusReason = f.Reason
	return true
}

// applyHostLost fails the attempt of a job whose host was lost, as if its
// container had ended without an exit code: the status reason is
// events.HostLostReason, the attempt is retried per the retry strategy
// (evaluateOnExit sees the reason), and a terminated job becomes FAILED,
// so TerminateJob ends a job on a lost host. It applies only while the
// record shows that attempt STARTING or RUNNING on that host.
func applyHostLost(j *batch.JobDetail, f events.JobHostLost) bool {
	if (j.Status != batch.StatusStarting && j.Status != batch.StatusRunning) || len(j.Attempts)+1 != f.Attempt ||
		j.HostID != f.HostID {
		return false
	}
	reason := events.HostLostReason(f.HostID)
	containerID := ""
	if j.Status == batch.StatusRunning && j.Container != nil {
		containerID = j.Container.TaskArn
	}
	return applyExited(j, events.JobExited{JobID: f.JobID, Attempt: f.Attempt, HostID: f.HostID, ContainerID: containerID,
		StatusReason: reason, StoppedAt: f.Time})
}

// placedBeforeGate reports whether a placement reached a record that its
// gate to RUNNABLE has not reached yet (still SUBMITTED or PENDING, the
// placement of its next attempt): the scheduler places a job it gated
// without waiting for the record, so the two can be applied out of order
// (by two replicas); the placement is then applied again later, never
// dropped. A cancelled job is FAILED, so its placements are dropped.
func placedBeforeGate(j batch.JobDetail, f events.JobPlaced) bool {
	return (j.Status == batch.StatusSubmitted || j.Status == batch.StatusPending) && j.CurrentAttempt() == f.Attempt &&
		!j.IsArrayParent()
}
