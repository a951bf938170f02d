package events

import (
	"strconv"
	"strings"
)

// Streams.
const (
	// StreamJobs holds every command and fact about jobs, in order.
	StreamJobs = "BATCH_JOBS"
	// StreamEvents holds job state change events for subscribers.
	StreamEvents = "BATCH_EVENTS"
	// StreamLogs holds every line every job printed.
	StreamLogs = "BATCH_LOGS"
)

// Streams of the notifier.
const (
	// StreamNotify holds notifications waiting for delivery, one subject
	// per rule target: batch.notify.<rule>.<target>.
	StreamNotify = "BATCH_NOTIFY"
	// StreamDeadLetters holds notifications that could not be delivered:
	// batch.dlq.<rule>.<target>.
	StreamDeadLetters = "BATCH_DLQ"
	// BucketRules holds the notification rules; writer: api.
	BucketRules = "batch_notification_rules"
	// BucketSettings holds deployment-wide markers, such as that the
	// default compute environment and queue were created once; writer: api.
	BucketSettings = "batch_settings"

	SubjectBlockedAll = "batch.events.blocked.>"
	SubjectNotifyAll  = "batch.notify.>"
	SubjectDeadAll    = "batch.dlq.>"
)

// Key-value buckets.
const (
	BucketJobs        = "batch_jobs"        // job records; writer: monitor
	BucketDefinitions = "batch_jobdefs"     // job definitions; writer: api
	BucketQueues      = "batch_queues"      // job queues; writer: api
	BucketEnvs        = "batch_computeenvs" // compute environments; writer: api
	BucketHosts       = "batch_hosts"       // live launcher hosts (TTL); writer: launcher
	BucketPolicies    = "batch_policies"    // scheduling policies; writer: api
	BucketResources   = "batch_resources"   // consumable resources; writer: api
)

// Subject roots and filters.
const (
	SubjectJobs         = "batch.job.>"
	SubjectSubmitAll    = "batch.job.*.submit.*"
	SubjectPlacedAll    = "batch.job.*.placed.*.*"
	SubjectGangAll      = "batch.job.*.gang.*"
	SubjectEventsAll    = "batch.events.>"
	SubjectJobEventsAll = "batch.events.job.>"
	SubjectLogsAll      = "batch.logs.>"
	SubjectAPIPrefix    = "batch.api"
	ServiceAPIName      = "batch-api"
	HeaderStream        = "Batch-Stream"
	HeaderType          = "Batch-Type"
	HeaderLogTime       = "Batch-Time"
	// HeaderDecidedAt on a job state change event is the RFC 3339 time
	// (nanoseconds, UTC) at which the monitor stored the change in the job
	// record, so a subscriber can tell how late it hears of it.
	HeaderDecidedAt = "Batch-Decided-At"
	// HeaderLine on a log line names it uniquely (a token of the copy
	// that shipped it and the line's number in it), so a line sent again
	// after an unconfirmed store is stored once.
	HeaderLine = "Batch-Line"
)

// tokens maps the characters of job ids that subjects, KV keys and
// container names do not take: array children "parent:3" become
// "parent_3", multi-node nodes "parent#3" become "parent__3". Ids never
// hold "_", so JobFromToken undoes it.
var (
	tokens   = strings.NewReplacer("#", "__", ":", "_")
	untokens = strings.NewReplacer("__", "#", "_", ":")
)

// Token makes a job id usable as one subject token, KV key or container
// name (see tokens).
func Token(jobID string) string {
	if strings.ContainsAny(jobID, ":#") {
		return tokens.Replace(jobID)
	}
	return jobID
}

// JobFromToken is the inverse of Token.
func JobFromToken(token string) string {
	if strings.IndexByte(token, '_') < 0 {
		return token
	}
	return untokens.Replace(token)
}

// SubmitSubject is where the api stores a submitted job.
func SubmitSubject(jobID string) string { return jobSubject("submit", jobID) }

// GateSubject is where the scheduler moves a job past SUBMITTED/PENDING.
func GateSubject(jobID string) string { return jobSubject("gate", jobID) }

// WaitSubject is where the scheduler says why a RUNNABLE job waits.
func WaitSubject(jobID string) string { return jobSubject("wait", jobID) }

// PlacedSubject is where the scheduler places a job on a host.
func PlacedSubject(hostID, jobID string) string { return hostSubject("placed", hostID, jobID) }

// PlacedHostFilter is the filter a launcher consumes for its host.
func PlacedHostFilter(hostID string) string { return HostFactFilter("placed", hostID) }

// GangSubject is where the scheduler places every node of an attempt of a
// multi-node job at once (JobNodesPlaced).
func GangSubject(jobID string) string { return jobSubject("gang", jobID) }

// StartedSubject is where the launcher of hostID says a container runs.
// The host is in the subject so that NATS permissions can limit a
// launcher to its own host's facts.
func StartedSubject(hostID, jobID string) string { return hostSubject("started", hostID, jobID) }

// ExitedSubject is where the launcher of hostID says an attempt ended.
func ExitedSubject(hostID, jobID string) string { return hostSubject("exited", hostID, jobID) }

// CancelSubject is where CancelJob (and a time limit) asks to cancel a job.
func CancelSubject(jobID string) string { return jobSubject("cancel", jobID) }

// TerminateSubject is where TerminateJob asks to terminate a job.
func TerminateSubject(jobID string) string { return jobSubject("terminate", jobID) }

// StopSubject is where the monitor tells a host's launcher to stop a job's
// container.
func StopSubject(hostID, jobID string) string { return hostSubject("stop", hostID, jobID) }

// StopHostFilter is the filter a launcher consumes its stops with.
func StopHostFilter(hostID string) string { return HostFactFilter("stop", hostID) }

// LogSubject is where the lines of one attempt go.
func LogSubject(jobID string, attempt int) string {
	return "batch.logs." + Token(jobID) + "." + strconv.Itoa(attempt)
}

// LogFilter matches every attempt's lines of a job (of every container of a
// multi-container job).
func LogFilter(jobID string) string { return "batch.logs." + Token(jobID) + ".>" }

// LogAttemptFilter matches one attempt's lines (of every container).
func LogAttemptFilter(jobID string, attempt int) string {
	return "batch.logs." + Token(jobID) + "." + strconv.Itoa(attempt) + ".>"
}

// EventSubject is where a job's state change is announced.
func EventSubject(queue string, status string) string {
	return "batch.events.job." + queue + "." + status
}

// APISubject is the NATS request subject of an API operation, for example
// "batch.api.SubmitJob".
func APISubject(operation string) string { return SubjectAPIPrefix + "." + operation }

// JobFactFilters match every fact about one job on BATCH_JOBS (with and
// without a host token), for purging a forgotten job's history.
func JobFactFilters(jobID string) []string {
	p := "batch.job." + partitionTokens[Partition(jobID)]
	return []string{p + ".*." + Token(jobID), p + ".*.*." + Token(jobID)}
}
