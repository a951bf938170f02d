// Package events is the wire contract between the services: the JetStream
// streams, key-value buckets and subjects, and the payload of every message
// on them. It imports only the standard library and pkg/batch.
//
// The job state machine (AWS Batch's):
//
//	SUBMITTED -> PENDING  -> RUNNABLE | FAILED (a dependency failed)
//	SUBMITTED -> RUNNABLE -> STARTING -> RUNNING -> SUCCEEDED | FAILED
//	STARTING | RUNNING -> RUNNABLE (a failed attempt with attempts left)
//	STARTING -> FAILED (the container cannot start)
//
// Who says what:
//
//	api        batch.job.submit.<job>        JobSubmitted   (creates the job)
//	scheduler  batch.job.gate.<job>          JobGated       (PENDING/RUNNABLE/FAILED)
//	scheduler  batch.job.wait.<job>          JobWaiting     (why a RUNNABLE job waits)
//	scheduler  batch.job.placed.<host>.<job> JobPlaced      (RUNNABLE -> STARTING)
//	launcher   batch.job.started.<host>.<job> JobStarted    (STARTING -> RUNNING)
//	launcher   batch.job.exited.<host>.<job>  JobExited     (-> SUCCEEDED/FAILED/RUNNABLE)
//	api        batch.job.tag.<job>           JobTagged      (TagResource/UntagResource on a job)
//	api        batch.job.cancel.<job>        JobCancel      (CancelJob; also the monitor's time limits)
//	api        batch.job.terminate.<job>     JobTerminate   (TerminateJob)
//	monitor    batch.job.stop.<host>.<job>   JobStop        (stop a terminated job's container)
//	launcher   batch.logs.<job>.<attempt>    log lines
//	monitor    batch.events.job.<queue>.<status> JobStateChange (EventBridge shape)
//	monitor    batch.events.blocked.<queue>.<job> JobQueueBlocked (waits too long)
//	notifier   batch.notify.<rule>.<target>  Notification   (to deliver)
//	notifier   batch.dlq.<rule>.<target>     DeadLetter     (could not deliver)
//
// Every message type implements Event (its subject, its Batch-Type and its
// Nats-Msg-Id); facts about one job also Keyed (the job id). pkg/bus
// publishes and consumes them; no service builds a subject of its own.
//
// The monitor is the only writer of the job record (bucket batch_jobs); it
// applies the facts above in stream order, each with compare-and-set on the
// record's revision, and ignores a fact that no longer applies, so
// redelivery is harmless.
package events
