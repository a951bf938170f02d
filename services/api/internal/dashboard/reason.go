package dashboard

import (
	"fmt"
	"strings"

	"github.com/batchd/batchd/pkg/batch"
)

// reasonHints says in plain words what the scheduler's coded wait reasons
// mean (docs/architecture.md, "Wait reasons").
var reasonHints = []struct{ prefix, hint string }{
	{"ACTION_REQUIRED", "None of the queue's compute environments is ENABLED: enable one (UpdateComputeEnvironment) or add one to the queue."},
	{"MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE", "The job needs more vCPUs than the maxvCpus of every compute environment of its queue: it can never run as it is."},
	{"MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT", "No host of the queue's compute environments is large enough for the job's vCPUs, memory or GPUs."},
	{"Waiting for job queue", "The queue is DISABLED (or gone): its jobs wait until it is ENABLED."},
	{"Waiting for a host", "No launcher host serves the queue's compute environments at the moment."},
	{"Waiting for consumable resource", "The job needs a consumable resource that other jobs hold, or that is missing or too small."},
	{"Waiting for a concurrency limit", "A maxRunningJobs limit (of the queue, the share or the array) is reached: the job runs when a running one ends."},
	{"Waiting for capacity held back by fair share", "Fair share keeps capacity back for share identifiers that are not active yet (computeReservation)."},
	{"Waiting for capacity", "The compute environments are full: the job runs when running jobs free enough vCPUs, memory and GPUs."},
}

// explain says in plain words where the job is and why.
func explain(j *batch.JobDetail, deps []dependencyView) string {
	switch j.Status {
	case batch.StatusSubmitted:
		return "Accepted; the scheduler has not looked at its dependencies yet."
	case batch.StatusPending:
		var waiting []string
		for _, d := range deps {
			if !d.Status.Final() {
				waiting = append(waiting, d.JobID)
			}
		}
		if len(waiting) > 0 {
			return fmt.Sprintf("Waiting for %d job(s) it depends on to finish: %s.", len(waiting), strings.Join(waiting, ", "))
		}
		if j.IsArrayParent() {
			return "An array job: its children are waiting for their dependencies."
		}
		return "Waiting for its dependencies to be checked."
	case batch.StatusRunnable:
		if j.IsArrayParent() {
			return "An array job: its children are waiting to be placed on a host."
		}
		if j.StatusReason == "" {
			return "Ready to run: waiting to be placed on a host."
		}
		for _, h := range reasonHints {
			if strings.HasPrefix(j.StatusReason, h.prefix) {
				return h.hint + " (" + j.StatusReason + ")"
			}
		}
		return j.StatusReason
	case batch.StatusStarting:
		return fmt.Sprintf("Placed on host %s (compute environment %s); its container is starting.", orNone(j.HostID), orNone(j.ComputeEnvironmentName))
	case batch.StatusRunning:
		if j.IsArrayParent() {
			return "An array job: some of its children are running."
		}
		s := fmt.Sprintf("Running on host %s (compute environment %s)", orNone(j.HostID), orNone(j.ComputeEnvironmentName))
		if j.IsTerminated {
			s += "; terminated: its container is being stopped"
		}
		return s + "."
	case batch.StatusSucceeded:
		return "Finished successfully" + exitText(j) + "."
	case batch.StatusFailed:
		var what string
		switch {
		case j.IsCancelled:
			what = "Cancelled"
		case j.IsTerminated:
			what = "Terminated"
		default:
			what = "Failed"
		}
		s := what + exitText(j)
		if j.StatusReason != "" {
			s += ": " + j.StatusReason
		}
		return s + "."
	}
	return string(j.Status)
}

func exitText(j *batch.JobDetail) string {
	if c := j.Container; c != nil && c.ExitCode != nil {
		return fmt.Sprintf(" with exit code %d", *c.ExitCode)
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "(not recorded yet)"
	}
	return s
}
