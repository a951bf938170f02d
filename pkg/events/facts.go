package events

import (
	"fmt"

	"github.com/batchd/batchd/pkg/batch"
)

// Message type names, sent in the Batch-Type header. Never renamed or reused.
const (
	TypeJobSubmitted   = "batch.job.v1.submitted"
	TypeJobGated       = "batch.job.v1.gated"
	TypeJobWaiting     = "batch.job.v1.waiting"
	TypeJobPlaced      = "batch.job.v1.placed"
	TypeJobStarted     = "batch.job.v1.started"
	TypeJobExited      = "batch.job.v1.exited"
	TypeJobStateChange = "batch.event.v1.job-state-change"
)

// JobSubmitted creates a job. Job is the complete record in status
// SUBMITTED: the definition resolved, overrides and parameters applied.
type JobSubmitted struct {
	Job batch.JobDetail `json:"job"`
}

// MsgID is the de-duplication id of the submit.
func (e JobSubmitted) MsgID() string { return "submit/" + e.Job.JobID }

// JobGated moves a SUBMITTED or PENDING job to Status (PENDING, RUNNABLE or
// FAILED when a dependency failed).
type JobGated struct {
	JobID  string          `json:"jobId"`
	Status batch.JobStatus `json:"status"`
	Reason string          `json:"reason,omitempty"`
	Time   int64           `json:"time"`
}

// MsgID is the de-duplication id of the gate.
func (e JobGated) MsgID() string { return "gate/" + e.JobID + "/" + string(e.Status) }

// JobWaiting sets the statusReason of a RUNNABLE job: why it waits.
type JobWaiting struct {
	JobID   string `json:"jobId"`
	Attempt int    `json:"attempt"`
	Reason  string `json:"reason"`
}

// JobPlaced assigns attempt Attempt of a RUNNABLE job to a host. It carries
// everything the launcher needs to run the container.
type JobPlaced struct {
	JobID              string        `json:"jobId"`
	Attempt            int           `json:"attempt"`
	HostID             string        `json:"hostId"`
	ComputeEnvironment string        `json:"computeEnvironment"`
	JobQueue           string        `json:"jobQueue"`
	Container          ContainerSpec `json:"container"`
	Time               int64         `json:"time"`
}

// MsgID is the de-duplication id of the placement: one per attempt,
// whatever the host, so a restarted scheduler cannot place twice.
func (e JobPlaced) MsgID() string { return fmt.Sprintf("placed/%s/%d", e.JobID, e.Attempt) }

// ContainerSpec is the resolved container of one attempt.
type ContainerSpec struct {
	Image        string            `json:"image"`
	Command      []string          `json:"command,omitempty"`
	Environment  map[string]string `json:"environment,omitempty"`
	VCPUs        float64           `json:"vcpus"`
	MemoryMiB    int64             `json:"memoryMiB"`
	GPUs         int               `json:"gpus,omitempty"`
	User         string            `json:"user,omitempty"`
	Privileged   bool              `json:"privileged,omitempty"`
	ReadOnlyRoot bool              `json:"readonlyRootFilesystem,omitempty"`
	// TimeoutSeconds is the attempt duration limit, 0 for none.
	TimeoutSeconds int `json:"timeoutSeconds,omitempty"`
}

// JobStarted says the container of an attempt is running.
type JobStarted struct {
	JobID       string `json:"jobId"`
	Attempt     int    `json:"attempt"`
	HostID      string `json:"hostId"`
	ContainerID string `json:"containerId"`
	StartedAt   int64  `json:"startedAt"`
}

// MsgID is the de-duplication id of the start.
func (e JobStarted) MsgID() string { return fmt.Sprintf("started/%s/%d", e.JobID, e.Attempt) }

// JobExited says an attempt ended: the container exited, or it could not
// start (ExitCode nil, StatusReason says why).
type JobExited struct {
	JobID       string `json:"jobId"`
	Attempt     int    `json:"attempt"`
	HostID      string `json:"hostId"`
	ContainerID string `json:"containerId,omitempty"`
	ExitCode    *int   `json:"exitCode,omitempty"`
	// Reason is the container reason (AWS container.reason).
	Reason string `json:"reason,omitempty"`
	// StatusReason is the job-level reason (AWS statusReason).
	StatusReason string `json:"statusReason,omitempty"`
	StartedAt    int64  `json:"startedAt,omitempty"`
	StoppedAt    int64  `json:"stoppedAt"`
	// NoRetry marks an ending that must not be retried (timeout,
	// termination, a container that can never start).
	NoRetry bool `json:"noRetry,omitempty"`
}

// MsgID is the de-duplication id of the exit.
func (e JobExited) MsgID() string { return fmt.Sprintf("exited/%s/%d", e.JobID, e.Attempt) }
