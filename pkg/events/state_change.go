package events

import (
	"time"

	"github.com/batchd/batchd/pkg/batch"
)

// DetailTypeJobStateChange is the EventBridge detail-type of a job event.
const DetailTypeJobStateChange = "Batch Job State Change"

// JobStateChange is a job state change in the EventBridge event shape, so
// EventBridge rule patterns written for AWS Batch match it unchanged.
type JobStateChange struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     batch.JobDetail `json:"detail"`
}

// NewJobStateChange wraps a job record. id must be unique per change (the
// monitor uses "<jobId>/<record revision>").
func NewJobStateChange(id string, at time.Time, job batch.JobDetail) JobStateChange {
	return JobStateChange{
		Version: "0", ID: id, DetailType: DetailTypeJobStateChange, Source: "aws.batch",
		Account: batch.Account, Time: at.UTC().Format(time.RFC3339), Region: batch.Region,
		Resources: []string{job.JobArn}, Detail: job,
	}
}

// Subject, Type, MsgID and Key make JobStateChange an events.Keyed: it is
// announced on the subject of the job's queue and new status.
func (e JobStateChange) Subject() string {
	return EventSubject(e.Detail.QueueName(), string(e.Detail.Status))
}
func (JobStateChange) Type() string    { return TypeJobStateChange }
func (e JobStateChange) MsgID() string { return e.ID }
func (e JobStateChange) Key() string   { return e.Detail.JobID }
