package api

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/batchd/batchd/pkg/batch"
)

// checkPriority validates a queue priority.
func checkPriority(p int) error {
	if p < 0 || p > maxPriority {
		return clientErr("priority %d is out of range: use 0 to %d (higher runs first)", p, maxPriority)
	}
	return nil
}

// checkMaxRunning validates the maxRunningJobs addition of a queue.
func checkMaxRunning(n int) error {
	if n < 0 {
		return clientErr("maxRunningJobs %d must not be negative: use 0 for no limit", n)
	}
	return nil
}

// resolveEnvironmentOrder checks a queue's computeEnvironmentOrder against
// the existing environments and returns it sorted by order, with every
// environment named by its ARN as AWS stores it. fargate reports whether
// the environments are Fargate ones.
func (s *Server) resolveEnvironmentOrder(ctx context.Context, order []batch.ComputeEnvironmentOrder) (out []batch.ComputeEnvironmentOrder, fargate bool, err error) {
	if len(order) == 0 {
		return nil, false, clientErr("computeEnvironmentOrder is required: list 1 to %d compute environments as {order, computeEnvironment}", maxQueueEnvs)
	}
	if len(order) > maxQueueEnvs {
		return nil, false, clientErr("computeEnvironmentOrder has %d entries: a queue can use at most %d compute environments", len(order), maxQueueEnvs)
	}
	seenOrder, seenEnv := map[int]bool{}, map[string]bool{}
	var kinds []string
	for i, o := range order {
		if o.ComputeEnvironment == "" {
			return nil, false, clientErr("computeEnvironmentOrder[%d].computeEnvironment is required: give an environment name or ARN", i)
		}
		if o.Order < 0 {
			return nil, false, clientErr("computeEnvironmentOrder[%d].order %d must not be negative", i, o.Order)
		}
		name := batch.NameFromRef(batch.KindComputeEnvironment, o.ComputeEnvironment)
		var ce *batch.ComputeEnvironmentDetail
		lerr := errNotFound
		if validName(name) {
			ce, lerr = s.envs.load(ctx, name)
		}
		if errors.Is(lerr, errNotFound) {
			return nil, false, clientErr("computeEnvironmentOrder[%d]: compute environment %s does not exist: create it first with CreateComputeEnvironment", i, o.ComputeEnvironment)
		}
		if lerr != nil {
			return nil, false, lerr
		}
		if seenOrder[o.Order] {
			return nil, false, clientErr("computeEnvironmentOrder has two entries with order %d: give each environment its own order", o.Order)
		}
		if seenEnv[name] {
			return nil, false, clientErr("computeEnvironmentOrder lists compute environment %s twice", name)
		}
		seenOrder[o.Order], seenEnv[name] = true, true
		kind := "EC2"
		if isFargateEnv(ce) {
			kind, fargate = "FARGATE", true
		}
		if !slices.Contains(kinds, kind) {
			kinds = append(kinds, kind)
		}
		out = append(out, batch.ComputeEnvironmentOrder{Order: o.Order, ComputeEnvironment: ce.ComputeEnvironmentArn})
	}
	if len(kinds) > 1 {
		return nil, false, clientErr("computeEnvironmentOrder mixes Fargate (FARGATE, FARGATE_SPOT) and EC2 (EC2, SPOT, UNMANAGED) compute environments: the environments of a queue must all be of one kind")
	}
	slices.SortFunc(out, func(a, b batch.ComputeEnvironmentOrder) int { return cmp.Compare(a.Order, b.Order) })
	return out, fargate, nil
}

// createJobQueue is the CreateJobQueue operation.
func (s *Server) createJobQueue(ctx context.Context, in *batch.CreateJobQueueInput) (*batch.JobQueueRef, error) {
	if err := checkName("jobQueueName", in.JobQueueName); err != nil {
		return nil, err
	}
	state := in.State
	if state == "" {
		state = stateEnabled
	}
	if err := checkEnum("state", state, stateEnabled, stateDisabled); err != nil {
		return nil, err
	}
	if in.Priority == nil {
		return nil, clientErr("priority is required: give an integer from 0 to %d; queues with a higher priority get shared compute environments first", maxPriority)
	}
	if err := checkPriority(*in.Priority); err != nil {
		return nil, err
	}
	if present(in.ServiceEnvironmentOrder) {
		return nil, clientErr("serviceEnvironmentOrder (SageMaker service environments) is not supported: use computeEnvironmentOrder")
	}
	if err := checkEnum("jobQueueType", in.JobQueueType, "ECS", "ECS_FARGATE", "EKS"); err != nil {
		return nil, err
	}
	if err := checkTags("tags", in.Tags); err != nil {
		return nil, err
	}
	if err := checkQueueTimeLimits(in.JobStateTimeLimitActions); err != nil {
		return nil, err
	}
	order, fargate, err := s.resolveEnvironmentOrder(ctx, in.ComputeEnvironmentOrder)
	if err != nil {
		return nil, err
	}
	policy := ""
	if in.SchedulingPolicyArn != "" {
		if policy, err = s.resolvePolicy(ctx, in.SchedulingPolicyArn); err != nil {
			return nil, err
		}
	}
	maxRunning := 0
	if in.MaxRunningJobs != nil {
		if err := checkMaxRunning(*in.MaxRunningJobs); err != nil {
			return nil, err
		}
		maxRunning = *in.MaxRunningJobs
	}
	qtype := in.JobQueueType
	if qtype == "" {
		qtype = "ECS"
		if fargate {
			qtype = "ECS_FARGATE"
		}
	}
	q := &batch.JobQueueDetail{
		JobQueueName:             in.JobQueueName,
		JobQueueArn:              batch.ARN(batch.KindJobQueue, in.JobQueueName),
		State:                    state,
		SchedulingPolicyArn:      policy,
		Status:                   statusValid,
		StatusReason:             "JobQueue Healthy",
		Priority:                 *in.Priority,
		ComputeEnvironmentOrder:  order,
		JobQueueType:             qtype,
		Tags:                     maps.Clone(in.Tags),
		JobStateTimeLimitActions: orNil(in.JobStateTimeLimitActions),
		MaxRunningJobs:           maxRunning,
	}
	created, err := s.queues.create(ctx, q.JobQueueName, q)
	if err != nil {
		return nil, err
	}
	if !created {
		return nil, clientErr("Object already exists: a job queue named %s exists already; choose another name or change it with UpdateJobQueue", q.JobQueueName)
	}
	s.log.InfoContext(ctx, "job queue created", "name", q.JobQueueName, "priority", q.Priority, "state", q.State)
	return &batch.JobQueueRef{JobQueueName: q.JobQueueName, JobQueueArn: q.JobQueueArn}, nil
}

// updateJobQueue is the UpdateJobQueue operation.
func (s *Server) updateJobQueue(ctx context.Context, in *batch.UpdateJobQueueInput) (*batch.JobQueueRef, error) {
	if in.JobQueue == "" {
		return nil, clientErr("jobQueue is required: give the name or ARN of the queue to update")
	}
	if err := checkEnum("state", in.State, stateEnabled, stateDisabled); err != nil {
		return nil, err
	}
	if in.Priority != nil {
		if err := checkPriority(*in.Priority); err != nil {
			return nil, err
		}
	}
	if present(in.ServiceEnvironmentOrder) {
		return nil, clientErr("serviceEnvironmentOrder (SageMaker service environments) is not supported: use computeEnvironmentOrder")
	}
	if in.MaxRunningJobs != nil {
		if err := checkMaxRunning(*in.MaxRunningJobs); err != nil {
			return nil, err
		}
	}
	if err := checkQueueTimeLimits(in.JobStateTimeLimitActions); err != nil {
		return nil, err
	}
	var order []batch.ComputeEnvironmentOrder
	if in.ComputeEnvironmentOrder != nil {
		var err error
		if order, _, err = s.resolveEnvironmentOrder(ctx, in.ComputeEnvironmentOrder); err != nil {
			return nil, err
		}
	}
	policy := ""
	if in.SchedulingPolicyArn != "" {
		var err error
		if policy, err = s.resolvePolicy(ctx, in.SchedulingPolicyArn); err != nil {
			return nil, err
		}
	}
	name := batch.NameFromRef(batch.KindJobQueue, in.JobQueue)
	if !validName(name) {
		return nil, clientErr("job queue %s does not exist", in.JobQueue)
	}
	q, err := s.queues.update(ctx, name, func(q *batch.JobQueueDetail) error {
		if policy != "" && q.SchedulingPolicyArn == "" {
			return clientErr("job queue %s is FIFO: a scheduling policy cannot be added to a queue created without one; create a new queue with schedulingPolicyArn", name)
		}
		if policy != "" {
			q.SchedulingPolicyArn = policy
		}
		if in.MaxRunningJobs != nil {
			q.MaxRunningJobs = *in.MaxRunningJobs
		}
		if in.State != "" {
			q.State = in.State
		}
		if in.Priority != nil {
			q.Priority = *in.Priority
		}
		if order != nil {
			q.ComputeEnvironmentOrder = order
		}
		if present(in.JobStateTimeLimitActions) {
			q.JobStateTimeLimitActions = in.JobStateTimeLimitActions
		}
		q.Status, q.StatusReason = statusValid, "JobQueue Healthy"
		return nil
	})
	if errors.Is(err, errNotFound) {
		return nil, clientErr("job queue %s does not exist: create it with CreateJobQueue", in.JobQueue)
	}
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "job queue updated", "name", name, "priority", q.Priority, "state", q.State)
	return &batch.JobQueueRef{JobQueueName: q.JobQueueName, JobQueueArn: q.JobQueueArn}, nil
}

// describeJobQueues is the DescribeJobQueues operation.
func (s *Server) describeJobQueues(ctx context.Context, in *batch.DescribeJobQueuesInput) (*batch.DescribeJobQueuesOutput, error) {
	page, next, err := describeNamed(ctx, s.queues, batch.KindJobQueue, "jobQueues", in.JobQueues, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &batch.DescribeJobQueuesOutput{JobQueues: entryValues(page), NextToken: next}, nil
}

// resolveQueue finds the queue a job is submitted to and checks that it
// takes new jobs.
func (s *Server) resolveQueue(ctx context.Context, ref string) (*batch.JobQueueDetail, error) {
	name := batch.NameFromRef(batch.KindJobQueue, ref)
	var q *batch.JobQueueDetail
	err := errNotFound
	if validName(name) {
		q, err = s.queues.load(ctx, name)
	}
	if errors.Is(err, errNotFound) {
		return nil, clientErr("job queue %s does not exist%s", ref, s.queueHint())
	}
	if err != nil {
		return nil, err
	}
	if q.State != stateEnabled {
		return nil, clientErr("job queue %s is %s and does not take new jobs: enable it with UpdateJobQueue (state ENABLED) or submit to another queue", q.JobQueueName, q.State)
	}
	return q, nil
}

// queueHint names a few existing queues for an error message.
func (s *Server) queueHint() string {
	var names []string
	for _, e := range s.queues.list() {
		if len(names) == 10 {
			names = append(names, "...")
			break
		}
		names = append(names, e.key)
	}
	if len(names) == 0 {
		return ": no job queue exists yet, create one with CreateJobQueue"
	}
	return ": existing queues are " + strings.Join(names, ", ")
}
