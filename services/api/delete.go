package api

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/batchd/batchd/pkg/batch"
)

// The operations that retire a resource, with AWS's preconditions: a
// compute environment must be DISABLED and used by no queue, a queue must
// be DISABLED; a job definition revision becomes INACTIVE.

// deleteComputeEnvironment is the DeleteComputeEnvironment operation.
func (s *Server) deleteComputeEnvironment(ctx context.Context, in *batch.DeleteComputeEnvironmentInput) (*batch.Empty, error) {
	if in.ComputeEnvironment == "" {
		return nil, clientErr("computeEnvironment is required: give the name or ARN of the compute environment to delete")
	}
	name := batch.NameFromRef(batch.KindComputeEnvironment, in.ComputeEnvironment)
	missing := clientErr("compute environment %s does not exist: %s does not exist", in.ComputeEnvironment, batch.ARN(batch.KindComputeEnvironment, name))
	if !validName(name) {
		return nil, missing
	}
	_, err := s.envs.remove(ctx, name, func(ce *batch.ComputeEnvironmentDetail) error {
		if ce.State != stateDisabled {
			return clientErr("Cannot delete, compute environment %s is %s: disable it first with UpdateComputeEnvironment (state DISABLED)", name, ce.State)
		}
		if users := s.queuesUsingEnvironment(ce.ComputeEnvironmentArn); len(users) > 0 {
			return clientErr("Cannot delete, found existing JobQueue relationship: job queue %s uses compute environment %s; remove it from the queue's computeEnvironmentOrder with UpdateJobQueue or delete the queue first", strings.Join(users, ", "), name)
		}
		return nil
	})
	if errors.Is(err, errNotFound) {
		return nil, missing
	}
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "compute environment deleted", "name", name)
	return &batch.Empty{}, nil
}

// queuesUsingEnvironment names the queues whose computeEnvironmentOrder
// lists the environment.
func (s *Server) queuesUsingEnvironment(arn string) []string {
	var out []string
	for _, e := range s.queues.list() {
		for _, o := range e.v.ComputeEnvironmentOrder {
			if o.ComputeEnvironment == arn {
				out = append(out, e.key)
				break
			}
		}
	}
	return out
}

// deleteJobQueue is the DeleteJobQueue operation. The queue must be
// DISABLED; its compute environments need not be removed first. The jobs
// in it that have not finished are terminated, as in AWS.
func (s *Server) deleteJobQueue(ctx context.Context, in *batch.DeleteJobQueueInput) (*batch.Empty, error) {
	if in.JobQueue == "" {
		return nil, clientErr("jobQueue is required: give the name or ARN of the job queue to delete")
	}
	name := batch.NameFromRef(batch.KindJobQueue, in.JobQueue)
	missing := clientErr("job queue %s does not exist: %s does not exist", in.JobQueue, batch.ARN(batch.KindJobQueue, name))
	if !validName(name) {
		return nil, missing
	}
	disabled := func(q *batch.JobQueueDetail) error {
		if q.State != stateDisabled {
			return clientErr("Cannot delete, job queue %s is %s: disable it first with UpdateJobQueue (state DISABLED)", name, q.State)
		}
		return nil
	}
	// Its unfinished jobs are terminated first, so that a failure before
	// the queue is gone leaves a queue the caller deletes again.
	q, _, err := s.queues.read(ctx, name)
	if err == nil {
		err = disabled(q)
	}
	var terminated int
	if err == nil {
		terminated, err = s.terminateQueueJobs(ctx, name)
	}
	if err == nil {
		_, err = s.queues.remove(ctx, name, disabled)
	}
	if errors.Is(err, errNotFound) {
		return nil, missing
	}
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "job queue deleted", "name", name, "jobsTerminated", terminated)
	return &batch.Empty{}, nil
}

// deregisterJobDefinition is the DeregisterJobDefinition operation: the
// revision (name:revision or ARN) becomes INACTIVE. It is kept, so that
// jobs and DescribeJobDefinitions (status INACTIVE) still find it, but no
// new job can use it.
func (s *Server) deregisterJobDefinition(ctx context.Context, in *batch.DeregisterJobDefinitionInput) (*batch.Empty, error) {
	if in.JobDefinition == "" {
		return nil, clientErr("jobDefinition is required: give name:revision or the ARN of the revision to deregister")
	}
	name, revStr, hasRev := strings.Cut(batch.NameFromRef(batch.KindJobDefinition, in.JobDefinition), ":")
	if !hasRev {
		return nil, clientErr("jobDefinition %s has no revision: give name:revision or the ARN of one revision", in.JobDefinition)
	}
	rev, err := strconv.Atoi(revStr)
	if err != nil || rev < 1 || !validName(name) {
		return nil, clientErr("jobDefinition %s is invalid: give name:revision or the ARN of one revision", in.JobDefinition)
	}
	_, err = s.defs.update(ctx, defKey(name, rev), func(d *batch.JobDefinition) error {
		if d.Status == defInactive {
			return errUnchanged
		}
		d.Status = defInactive
		return nil
	})
	switch {
	case errors.Is(err, errNotFound):
		return nil, clientErr("job definition %s does not exist", in.JobDefinition)
	case errors.Is(err, errUnchanged):
	case err != nil:
		return nil, err
	default:
		s.log.InfoContext(ctx, "job definition deregistered", "name", name, "revision", rev)
	}
	return &batch.Empty{}, nil
}
