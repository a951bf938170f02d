package api

import (
	"context"
	"errors"

	"github.com/batchd/batchd/pkg/batch"
)

// frontOfQueueSize is how many RUNNABLE jobs GetJobQueueSnapshot lists.
const frontOfQueueSize = 100

// getJobQueueSnapshot is the GetJobQueueSnapshot operation: the first 100
// RUNNABLE jobs of the queue in the order they are dispatched, from this
// replica's job index. earliestTimeAtPosition is when the job was last
// seen entering RUNNABLE; lastUpdatedAt is when the newest of the listed
// jobs last changed (the snapshot time when none is listed).
// queueUtilization is the vCPUs the queue's STARTING and RUNNING jobs need,
// in total and (fair-share queues) for the 20 shares using the most.
// frontOfQuotaShares is not returned (quota shares are not supported).
func (s *Server) getJobQueueSnapshot(ctx context.Context, in *batch.GetJobQueueSnapshotInput) (*batch.GetJobQueueSnapshotOutput, error) {
	if in.JobQueue == "" {
		return nil, clientErr("jobQueue is required: give the name or ARN of a job queue")
	}
	name := batch.NameFromRef(batch.KindJobQueue, in.JobQueue)
	var q *batch.JobQueueDetail
	err := errNotFound
	if validName(name) {
		q, err = s.queues.load(ctx, name)
	}
	if errors.Is(err, errNotFound) {
		return nil, clientErr("job queue %s does not exist%s", in.JobQueue, s.queueHint())
	}
	if err != nil {
		return nil, err
	}
	if err := s.index.waitReady(ctx); err != nil {
		return nil, err
	}
	now := s.now().UnixMilli()
	fairShare := q.SchedulingPolicyArn != ""
	jobs, last := s.index.frontOfQueue(q.JobQueueName, fairShare, frontOfQueueSize)
	if last == 0 {
		last = now
	}
	return &batch.GetJobQueueSnapshotOutput{
		FrontOfQueue:     &batch.FrontOfQueueDetail{Jobs: jobs, LastUpdatedAt: last},
		QueueUtilization: s.index.queueUtilization(q.JobQueueName, fairShare, now),
	}, nil
}
