package events

import (
	"strconv"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/segmentio/encoding/json"
)

// Message types of the notifier and of blocked-job events.
const (
	TypeJobQueueBlocked = "batch.event.v1.job-queue-blocked"
	TypeNotification    = "batch.notify.v1.notification"
	TypeDeadLetter      = "batch.dlq.v1.dead-letter"
)

// DetailTypeJobQueueBlocked is the EventBridge detail-type of a blocked
// job event.
const DetailTypeJobQueueBlocked = "Batch Job Queue Blocked"

// BlockedDetail is the detail of a "Batch Job Queue Blocked" event: the job
// as DescribeJobs returns it, its statusReason saying in plain words why it
// waits, and since when it waits.
type BlockedDetail struct {
	batch.JobDetail
	// WaitingSince is when the job entered its status (epoch ms).
	WaitingSince int64 `json:"waitingSince"`
	// WaitingSeconds is how long it had waited when the event was made.
	WaitingSeconds int64 `json:"waitingSeconds"`
}

// JobQueueBlocked is a job that waited RUNNABLE or PENDING longer than the
// threshold, in the EventBridge event shape. Resources are the job's and
// its queue's ARNs, as AWS sends them.
type JobQueueBlocked struct {
	Version    string        `json:"version"`
	ID         string        `json:"id"`
	DetailType string        `json:"detail-type"`
	Source     string        `json:"source"`
	Account    string        `json:"account"`
	Time       string        `json:"time"`
	Region     string        `json:"region"`
	Resources  []string      `json:"resources"`
	Detail     BlockedDetail `json:"detail"`
}

// NewJobQueueBlocked wraps a waiting job. id must name the wait (the
// monitor uses "blocked/<job>/<attempts>/<status>").
func NewJobQueueBlocked(id string, at time.Time, job batch.JobDetail, since time.Time) JobQueueBlocked {
	res := []string{job.JobArn}
	if job.JobQueue != "" {
		res = append(res, job.JobQueue)
	}
	return JobQueueBlocked{
		Version: "0", ID: id, DetailType: DetailTypeJobQueueBlocked, Source: "aws.batch",
		Account: batch.Account, Time: at.UTC().Format(time.RFC3339), Region: batch.Region, Resources: res,
		Detail: BlockedDetail{JobDetail: job, WaitingSince: since.UnixMilli(),
			WaitingSeconds: int64(at.Sub(since) / time.Second)},
	}
}

// Notification is one event on its way to one target of one rule, stored
// on NotifySubject(rule, target) until the notifier has delivered it or
// given up. The notifier copies the event's trace context into its
// headers.
type Notification struct {
	// MessageID is the same for every delivery of this event to this
	// target (retries, redeliveries, replays): receivers drop duplicates
	// by it. It is also the Nats-Msg-Id of the message.
	MessageID     string `json:"messageId"`
	RuleName      string `json:"ruleName"`
	RuleCreatedAt int64  `json:"ruleCreatedAt"`
	TargetID      string `json:"targetId"`
	// EventSubject, EventSeq and EventType say which message of
	// BATCH_EVENTS the notification carries.
	EventSubject string          `json:"eventSubject"`
	EventSeq     uint64          `json:"eventSeq"`
	EventType    string          `json:"eventType"`
	Event        json.RawMessage `json:"event"`
	// Time the notification was made (epoch ms).
	Time int64 `json:"time"`
	// ReplayOf is the BATCH_DLQ sequence of the dead letter this
	// notification replays (ReplayDeadLetters); 0 for a first delivery.
	ReplayOf uint64 `json:"replayOf,omitempty"`
}

// DeadLetter is a notification the notifier gave up on, stored on
// DeadLetterSubject(rule, target) until it is replayed.
type DeadLetter struct {
	Notification
	TargetType string `json:"targetType"`
	Endpoint   string `json:"endpoint"`
	Attempts   int    `json:"attempts"`
	LastError  string `json:"lastError"`
	FailedAt   int64  `json:"failedAt"`
	// NotificationSeq is the BATCH_NOTIFY sequence of the notification
	// given up on.
	NotificationSeq uint64 `json:"notificationSeq,omitempty"`
}

// NotifySubject is where notifications for one target of one rule wait.
func NotifySubject(rule, target string) string { return "batch.notify." + rule + "." + target }

// DeadLetterSubject is where the notifier puts what it could not deliver.
func DeadLetterSubject(rule, target string) string { return "batch.dlq." + rule + "." + target }

// BlockedSubject is where a job that waits too long is announced.
func BlockedSubject(queue, jobID string) string {
	return "batch.events.blocked." + queue + "." + Token(jobID)
}

// Subject, Type, MsgID and Key make JobQueueBlocked an events.Keyed.
func (e JobQueueBlocked) Subject() string {
	return BlockedSubject(e.Detail.QueueName(), e.Detail.JobID)
}
func (JobQueueBlocked) Type() string    { return TypeJobQueueBlocked }
func (e JobQueueBlocked) MsgID() string { return e.ID }
func (e JobQueueBlocked) Key() string   { return e.Detail.JobID }

// Subject, Type and MsgID make Notification an events.Event.
func (n Notification) Subject() string { return NotifySubject(n.RuleName, n.TargetID) }
func (Notification) Type() string      { return TypeNotification }
func (n Notification) MsgID() string {
	if n.ReplayOf != 0 {
		return "replay/" + strconv.FormatUint(n.ReplayOf, 10)
	}
	return n.MessageID
}

// Subject, Type and MsgID make DeadLetter an events.Event. Its id is set by
// the notifier (DeadLetterID): the notification's stream sequence, so a
// redelivered notification is dead-lettered once, and a replayed one (a
// new message) can be again.
func (d DeadLetter) Subject() string { return DeadLetterSubject(d.RuleName, d.TargetID) }
func (DeadLetter) Type() string      { return TypeDeadLetter }
func (d DeadLetter) MsgID() string   { return "dlq/" + strconv.FormatUint(d.NotificationSeq, 10) }
