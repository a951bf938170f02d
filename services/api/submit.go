package api

import (
	"context"
	"fmt"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"go.opentelemetry.io/otel/trace"
)

// submitJob is the SubmitJob operation: validate, resolve the queue and the
// definition, build the complete job record, store it as a JobSubmitted
// message and answer once JetStream has acknowledged it.
func (s *Server) submitJob(ctx context.Context, in *batch.SubmitJobInput) (*batch.SubmitJobOutput, error) {
	if err := checkSubmitInput(in); err != nil {
		return nil, err
	}
	q, err := s.resolveQueue(ctx, in.JobQueue)
	if err != nil {
		return nil, err
	}
	def, err := s.defs.resolve(ctx, in.JobDefinition)
	if err != nil {
		return nil, err
	}
	if err := unsupportedYet(def, in); err != nil {
		return nil, err
	}
	if err := checkOverridesFit(def, in); err != nil {
		return nil, err
	}
	if err := checkShare(q, in.ShareIdentifier); err != nil {
		return nil, err
	}
	id := newUUID()
	job, err := buildJob(in, def, q, id, s.now().UnixMilli())
	if err != nil {
		return nil, err
	}
	if err := s.checkDependenciesExist(ctx, in.DependsOn); err != nil {
		return nil, err
	}
	if job.ConsumableResourceProperties, err = s.jobConsumables(ctx, def, in); err != nil {
		return nil, err
	}
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		job.TraceID = sc.TraceID().String()
	}
	ev := events.JobSubmitted{Job: job}
	if _, err := bus.Publish(ctx, s.js, events.SubmitSubject(id), events.TypeJobSubmitted, ev.MsgID(), ev); err != nil {
		return nil, fmt.Errorf("store job %s: %w", id, err)
	}
	s.log.Debug("job submitted", "job", id, "name", job.JobName, "queue", q.JobQueueName, "definition", def.JobDefinitionArn)
	return &batch.SubmitJobOutput{JobArn: job.JobArn, JobName: job.JobName, JobID: id}, nil
}

// checkDependenciesExist makes sure every job named in dependsOn exists.
func (s *Server) checkDependenciesExist(ctx context.Context, deps []batch.JobDependency) error {
	var ids []string
	seen := make(map[string]bool, len(deps))
	for _, d := range deps {
		if d.JobID != "" && !seen[d.JobID] {
			seen[d.JobID] = true
			ids = append(ids, d.JobID)
		}
	}
	missing := make([]bool, len(ids))
	err := forEach(ctx, len(ids), lookupParallelism, func(ctx context.Context, i int) error {
		ok, err := s.jobExists(ctx, ids[i])
		missing[i] = !ok
		return err
	})
	if err != nil {
		return err
	}
	for i, m := range missing {
		if m {
			return clientErr("dependsOn job %s does not exist: give the jobId that SubmitJob returned for it", ids[i])
		}
	}
	return nil
}
