package batch

// Rules about a job record that more than one service needs. Each service
// asks the record rather than working the rule out again.

// CurrentAttempt is the number of the attempt the job is on or will make
// next: attempts are counted from 1, and Attempts holds the ended ones.
func (j *JobDetail) CurrentAttempt() int { return len(j.Attempts) + 1 }

// QueueName is the name of the job's queue, from the record's name field or
// its ARN.
func (j *JobDetail) QueueName() string { return QueueName(j.JobQueueName, j.JobQueue) }

// QueueName is the queue name of a record that holds name (may be empty)
// and arn, for readers that decode only part of a record.
func QueueName(name, arn string) string {
	if name != "" {
		return name
	}
	return NameFromRef(KindJobQueue, arn)
}

// HoldsResource reports whether a job in status, with ended attempts
// already made, holds a consumable resource of resourceType (the rule of
// ConsumableResourceDetail): a REPLENISHABLE one while STARTING or RUNNING
// (occupying reports the scheduler's own view: placed, not yet recorded), a
// NON_REPLENISHABLE one for good once the job has ever left RUNNABLE for
// STARTING.
func HoldsResource(resourceType string, status JobStatus, attempts int, occupying bool) bool {
	running := occupying || status == StatusStarting || status == StatusRunning
	if resourceType == ResourceNonReplenishable {
		return running || attempts > 0
	}
	return running
}
