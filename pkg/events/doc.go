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
// Who says what (<p> is the job's partition, Partition(job): the facts of
// one job are in one partition, which one monitor replica applies in order):
//
//	api        batch.job.<p>.submit.<job>        JobSubmitted   (creates the job)
//	scheduler  batch.job.<p>.gate.<job>          JobGated       (PENDING/RUNNABLE/FAILED)
//	scheduler  batch.job.<p>.wait.<job>          JobWaiting     (why a RUNNABLE job waits)
//	scheduler  batch.job.<p>.placed.<host>.<job> JobPlaced      (RUNNABLE -> STARTING)
//	scheduler  batch.job.<p>.gang.<job>          JobNodesPlaced (every node of a multi-node attempt)
//	scheduler  batch.job.<p>.hostlost.<job>      JobHostLost    (the host of an attempt was lost)
//	launcher   batch.job.<p>.started.<host>.<job> JobStarted    (STARTING -> RUNNING)
//	launcher   batch.job.<p>.exited.<host>.<job>  JobExited     (-> SUCCEEDED/FAILED/RUNNABLE)
//	api        batch.job.<p>.tag.<job>           JobTagged      (TagResource/UntagResource on a job)
//	api        batch.job.<p>.cancel.<job>        JobCancel      (CancelJob; also the monitor's time limits)
//	api        batch.job.<p>.terminate.<job>     JobTerminate   (TerminateJob)
//	monitor    batch.job.<p>.stop.<host>.<job>   JobStop        (stop a terminated job's container)
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
// applies the facts above in stream order within a partition, each with
// compare-and-set on the record's revision, and ignores a fact that no longer applies, so
// redelivery is harmless.
package events
