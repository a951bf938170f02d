package events

import "fmt"

// TypeJobHostLost is the Batch-Type of JobHostLost.
const TypeJobHostLost = "batch.job.v1.host-lost"

// JobHostLost says the host of a STARTING or RUNNING attempt was lost: its
// launcher was silent past the host-lost timeout. The scheduler, which
// watches the hosts, publishes it; the monitor fails the attempt with
// HostLostReason (retried per the job's retry strategy, whose
// evaluateOnExit onStatusReason "Host EC2*" matches it) and tells the host,
// should it come back, to remove the attempt's container without
// reporting it (JobStop with Abandon).
type JobHostLost struct {
	JobID   string `json:"jobId"`
	Attempt int    `json:"attempt"`
	HostID  string `json:"hostId"`
	// Time is when the host was declared lost (Unix ms).
	Time int64 `json:"time"`
}

// MsgID is the de-duplication id of the loss: one per attempt.
func (e JobHostLost) MsgID() string { return fmt.Sprintf("hostlost/%s/%d", e.JobID, e.Attempt) }

// HostLostSubject is where the loss of a job's host is stated.
func HostLostSubject(jobID string) string { return jobSubject("hostlost", jobID) }

// HostLostReason is the status reason of an attempt whose host was lost,
// worded as AWS Batch words an instance that went away.
func HostLostReason(hostID string) string { return "Host EC2 (instance " + hostID + ") terminated." }

// Subject, Type and Key make JobHostLost an events.Keyed.
func (e JobHostLost) Subject() string { return HostLostSubject(e.JobID) }
func (JobHostLost) Type() string      { return TypeJobHostLost }
func (e JobHostLost) Key() string     { return e.JobID }
