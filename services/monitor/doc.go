// Package monitor is the only writer of job records. It consumes every
// command and fact on the jobs stream (submitted, gated, waiting, placed,
// started, exited) in stream order per partition of the jobs (each
// partition applied by the one replica holding its lease, partitions.go),
// applies each to the job's record in the
// batch_jobs bucket with compare-and-set on its revision, and announces
// every status change as a "Batch Job State Change" event on
// batch.events.job.<queue>.<status>.
//
// A fact that no longer applies (its job has moved on) changes nothing, so
// redelivery after a crash is harmless; a redelivered fact re-announces the
// job's current status under the same event id, so no event is lost
// between the record write and the announcement.
//
// It also follows the job records and announces, once per wait, a job that
// waits RUNNABLE or PENDING longer than Config.BlockedAfter: a "Batch Job
// Queue Blocked" event on batch.events.blocked.<queue>.<job> (blocked.go).
package monitor
