package api

import (
	"github.com/batchd/batchd/pkg/batch"
)

// checkShare enforces the fair-share rule at submit, with AWS's wording: a
// shareIdentifier is required on a queue with a scheduling policy and
// refused on a FIFO queue; it is up to 255 letters and digits, optionally
// followed by *.
func checkShare(q *batch.JobQueueDetail, share string) error {
	if q.SchedulingPolicyArn == "" && share != "" {
		return clientErr("shareIdentifier is not allowed: job queue %s has no scheduling policy (it is FIFO); leave shareIdentifier out", q.JobQueueName)
	}
	if q.SchedulingPolicyArn != "" && share == "" {
		return clientErr("shareIdentifier must be specified. Job queue %s uses the fair-share scheduling policy %s: give the share the job belongs to", q.JobQueueName, q.SchedulingPolicyArn)
	}
	if share != "" && !validShareID(share) {
		return clientErr("shareIdentifier %q is invalid: use up to %d letters and digits, optionally followed by *", share, maxShareIDLen)
	}
	return nil
}
