package events

import (
	"fmt"
	"strings"

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
	TypeJobCancel      = "batch.job.v1.cancel"
	TypeJobTerminate   = "batch.job.v1.terminate"
	TypeJobStop        = "batch.job.v1.stop"
)

// JobSubmitted creates a job. Job is the complete record in status
// SUBMITTED: the definition resolved, overrides and parameters applied.
type JobSubmitted struct {
	Job batch.JobDetail `json:"job"`
}

// MsgID is the de-duplication id of the submit.
func (e JobSubmitted) MsgID() string { return submitMsgIDPrefix + e.Job.JobID }

const submitMsgIDPrefix = "submit/"

// SubmittedJob is the job of a submit's de-duplication id (the
// Nats-Msg-Id header; what JobSubmitted.MsgID makes), so that a reader of
// the submits' headers alone knows which job each one is.
func SubmittedJob(msgID string) (jobID string, ok bool) {
	jobID, ok = strings.CutPrefix(msgID, submitMsgIDPrefix)
	return jobID, ok && jobID != ""
}

// JobGated moves a SUBMITTED or PENDING job to Status (PENDING, RUNNABLE or
// FAILED when a dependency failed). Reason becomes the record's
// statusReason: why a dependency failed, or why a job gated RUNNABLE that
// the scheduler's pass did not place waits (its JobWaiting, in one fact).
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
	// Task, for a multi-container job, is its pod (Container is then
	// empty).
	Task *TaskSpec `json:"task,omitempty"`
	Time int64     `json:"time"`
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

	// The container settings NewContainerSpec builds (container.go).
	// Mounts are the volumes' mount points, then the tmpfs mounts.
	Mounts []Mount `json:"mounts,omitempty"`
	// Secrets are variables whose values are engine secrets (never the
	// values themselves).
	Secrets []SecretEnv `json:"secrets,omitempty"`
	// Ulimits are the rlimits of the container's processes.
	Ulimits []batch.Ulimit `json:"ulimits,omitempty"`
	// Devices are host devices given to the container.
	Devices []DeviceMapping `json:"devices,omitempty"`
	// Init runs an init process as PID 1 (initProcessEnabled).
	Init bool `json:"init,omitempty"`
	// ShmSizeMiB is the size of /dev/shm; 0: the engine's default.
	ShmSizeMiB int `json:"shmSizeMiB,omitempty"`
	// MaxSwapMiB is the swap allowed on top of MemoryMiB; nil: none.
	MaxSwapMiB *int `json:"maxSwapMiB,omitempty"`
	// Swappiness (0-100) applies with MaxSwapMiB; nil: the kernel's.
	Swappiness *int `json:"swappiness,omitempty"`
	// Refused, when set, is why the container cannot run (settings the
	// api refuses now, in a record stored before): the launcher fails the
	// attempt with it.
	Refused string `json:"refused,omitempty"`
	// RegistryCredentials log in to the image's registry when the image
	// is pulled (registry.go); nil: pull without.
	RegistryCredentials *RegistryCredentials `json:"registryCredentials,omitempty"`
}

// JobStarted says the container of an attempt is running.
type JobStarted struct {
	JobID       string `json:"jobId"`
	Attempt     int    `json:"attempt"`
	HostID      string `json:"hostId"`
	ContainerID string `json:"containerId"`
	StartedAt   int64  `json:"startedAt"`
	// PullStartedAt and PullStoppedAt are when the image was pulled for
	// the container (epoch ms); 0 when it was present.
	PullStartedAt int64 `json:"pullStartedAt,omitempty"`
	PullStoppedAt int64 `json:"pullStoppedAt,omitempty"`
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
	// PullStartedAt and PullStoppedAt are when the image was pulled for
	// the attempt, or failed to be (epoch ms); 0 when it was present.
	PullStartedAt int64 `json:"pullStartedAt,omitempty"`
	PullStoppedAt int64 `json:"pullStoppedAt,omitempty"`
	// NoRetry marks an ending that must not be retried (timeout,
	// termination, a container that can never start).
	NoRetry bool `json:"noRetry,omitempty"`
	// Containers, for a multi-container job, is how each container of the
	// task ended; ExitCode and Reason are then the job's (see docs/events.md).
	Containers []ContainerResult `json:"containers,omitempty"`
}

// MsgID is the de-duplication id of the exit.
func (e JobExited) MsgID() string { return fmt.Sprintf("exited/%s/%d", e.JobID, e.Attempt) }

// Who asked for a cancel or termination (JobCancel.By, JobTerminate.By).
const (
	ByUser      = "user"      // CancelJob / TerminateJob
	ByArray     = "array"     // the array parent was cancelled or terminated
	ByTimeLimit = "timelimit" // a jobStateTimeLimitAction
)

// JobCancel asks to cancel a job (CancelJob): a SUBMITTED, PENDING or
// RUNNABLE job becomes FAILED with Reason and isCancelled; a job that is
// STARTING, RUNNING or final is left alone. On an array parent it applies
// to every child.
type JobCancel struct {
	JobID  string `json:"jobId"`
	Reason string `json:"reason"`
	By     string `json:"by,omitempty"`
	Time   int64  `json:"time"`
	// ID, when set, is the de-duplication id (a time limit names the
	// limit that fired).
	ID string `json:"id,omitempty"`
}

// MsgID is the de-duplication id of the cancel: one per request.
func (e JobCancel) MsgID() string {
	if e.ID != "" {
		return e.ID
	}
	return fmt.Sprintf("cancel/%s/%d", e.JobID, e.Time)
}

// JobTerminate asks to terminate a job (TerminateJob): a job before
// STARTING becomes FAILED at once; a STARTING or RUNNING job is marked
// isTerminated and its container stopped (JobStop), and it becomes FAILED
// with Reason when the attempt ends, never retried. On an array parent it
// applies to every child.
type JobTerminate struct {
	JobID  string `json:"jobId"`
	Reason string `json:"reason"`
	By     string `json:"by,omitempty"`
	Time   int64  `json:"time"`
	// ID, when set, is the de-duplication id (a time limit names the
	// limit that fired).
	ID string `json:"id,omitempty"`
}

// MsgID is the de-duplication id of the termination: one per request.
func (e JobTerminate) MsgID() string {
	if e.ID != "" {
		return e.ID
	}
	return fmt.Sprintf("terminate/%s/%d", e.JobID, e.Time)
}

// JobStop tells the launcher of HostID to stop the container of an
// attempt of a terminated job (SIGTERM, SIGKILL after the grace period) or
// not to start it. The monitor publishes it.
type JobStop struct {
	JobID   string `json:"jobId"`
	Attempt int    `json:"attempt"`
	HostID  string `json:"hostId"`
	Reason  string `json:"reason"`
	// Abandon says the attempt was given up (its host was lost and the
	// job retried or failed): the container is stopped and removed, and
	// its exit is not reported.
	Abandon bool `json:"abandon,omitempty"`
}

// MsgID is the de-duplication id of the stop: one per attempt, and one
// abandonment per attempt.
func (e JobStop) MsgID() string {
	if e.Abandon {
		return fmt.Sprintf("abandon/%s/%d", e.JobID, e.Attempt)
	}
	return fmt.Sprintf("stop/%s/%d", e.JobID, e.Attempt)
}

// Subject, Type and Key make JobSubmitted an events.Keyed.
func (e JobSubmitted) Subject() string { return SubmitSubject(e.Job.JobID) }
func (JobSubmitted) Type() string      { return TypeJobSubmitted }
func (e JobSubmitted) Key() string     { return e.Job.JobID }

// Subject, Type and Key make JobGated an events.Keyed.
func (e JobGated) Subject() string { return GateSubject(e.JobID) }
func (JobGated) Type() string      { return TypeJobGated }
func (e JobGated) Key() string     { return e.JobID }

// Subject, Type and Key make JobWaiting an events.Keyed.
func (e JobWaiting) Subject() string { return WaitSubject(e.JobID) }
func (JobWaiting) Type() string      { return TypeJobWaiting }
func (e JobWaiting) Key() string     { return e.JobID }

// Subject, Type and Key make JobPlaced an events.Keyed.
func (e JobPlaced) Subject() string { return PlacedSubject(e.HostID, e.JobID) }
func (JobPlaced) Type() string      { return TypeJobPlaced }
func (e JobPlaced) Key() string     { return e.JobID }

// Subject, Type and Key make JobStarted an events.Keyed.
func (e JobStarted) Subject() string { return StartedSubject(e.HostID, e.JobID) }
func (JobStarted) Type() string      { return TypeJobStarted }
func (e JobStarted) Key() string     { return e.JobID }

// Subject, Type and Key make JobExited an events.Keyed.
func (e JobExited) Subject() string { return ExitedSubject(e.HostID, e.JobID) }
func (JobExited) Type() string      { return TypeJobExited }
func (e JobExited) Key() string     { return e.JobID }

// Subject, Type and Key make JobCancel an events.Keyed.
func (e JobCancel) Subject() string { return CancelSubject(e.JobID) }
func (JobCancel) Type() string      { return TypeJobCancel }
func (e JobCancel) Key() string     { return e.JobID }

// Subject, Type and Key make JobTerminate an events.Keyed.
func (e JobTerminate) Subject() string { return TerminateSubject(e.JobID) }
func (JobTerminate) Type() string      { return TypeJobTerminate }
func (e JobTerminate) Key() string     { return e.JobID }

// Subject, Type and Key make JobStop an events.Keyed.
func (e JobStop) Subject() string { return StopSubject(e.HostID, e.JobID) }
func (JobStop) Type() string      { return TypeJobStop }
func (e JobStop) Key() string     { return e.JobID }

// MsgID of a wait reason is empty: each new reason is stored (the
// scheduler publishes one only when it changed).
func (e JobWaiting) MsgID() string { return "" }
