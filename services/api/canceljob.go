package api

import (
	"context"
	"fmt"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
)

// maxReasonLen is AWS's limit on the reason of CancelJob and TerminateJob.
const maxReasonLen = 1024

// cancelJob is the CancelJob operation. It stores a JobCancel fact; the
// monitor fails the job if it has not started (SUBMITTED, PENDING,
// RUNNABLE) and leaves it alone otherwise, as AWS does. An unknown job id
// of a valid form is accepted and changes nothing (AWS answers 200 too).
func (s *Server) cancelJob(ctx context.Context, in *batch.CancelJobInput) (*batch.CancelJobOutput, error) {
	id, ok, err := s.jobToStop(ctx, in.JobID, in.Reason)
	if err != nil || !ok {
		return &batch.CancelJobOutput{}, err
	}
	ev := events.JobCancel{JobID: id, Reason: in.Reason, By: events.ByUser, Time: s.now().UnixMilli()}
	if _, err := bus.Publish(ctx, s.js, ev); err != nil {
		return nil, fmt.Errorf("store cancel of job %s: %w", id, err)
	}
	return &batch.CancelJobOutput{}, nil
}

// terminateJob is the TerminateJob operation: a JobTerminate fact; the
// monitor fails a job that has not started and has the launcher stop a
// running one.
func (s *Server) terminateJob(ctx context.Context, in *batch.TerminateJobInput) (*batch.TerminateJobOutput, error) {
	id, ok, err := s.jobToStop(ctx, in.JobID, in.Reason)
	if err != nil || !ok {
		return &batch.TerminateJobOutput{}, err
	}
	ev := events.JobTerminate{JobID: id, Reason: in.Reason, By: events.ByUser, Time: s.now().UnixMilli()}
	if _, err := bus.Publish(ctx, s.js, ev); err != nil {
		return nil, fmt.Errorf("store termination of job %s: %w", id, err)
	}
	return &batch.TerminateJobOutput{}, nil
}

// jobToStop validates a CancelJob/TerminateJob request and reports whether
// the job exists.
func (s *Server) jobToStop(ctx context.Context, ref, reason string) (string, bool, error) {
	if ref == "" {
		return "", false, clientErr("jobId is required: give the id (or ARN) SubmitJob returned")
	}
	id := batch.NameFromRef(batch.KindJob, ref)
	if !validJobID(id) {
		return "", false, clientErr("jobId %q is invalid: give the id (or ARN) SubmitJob returned", ref)
	}
	if parent, i, ok := batch.MultiNodeParentOf(id); ok {
		return "", false, clientErr("job %s is node %d of the multi-node parallel job %s: cancel or terminate that job, which stops all its nodes", id, i, parent)
	}
	if reason == "" {
		return "", false, clientErr("reason is required: say why the job is stopped (up to %d characters); it becomes the job's statusReason", maxReasonLen)
	}
	if len(reason) > maxReasonLen {
		return "", false, clientErr("reason has %d characters: at most %d are allowed", len(reason), maxReasonLen)
	}
	ok, err := s.jobExists(ctx, id)
	return id, ok, err
}
