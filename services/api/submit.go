package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/telemetry"
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
	if err := s.checkPrivilege("job definition "+def.JobDefinitionArn, def); err != nil {
		return nil, err
	}
	if err := checkOverridesFit(def, in); err != nil {
		return nil, err
	}
	if err := checkShare(q, in.ShareIdentifier); err != nil {
		return nil, err
	}
	id := newUUID()
	if in.ClientToken != "" {
		// The id follows from the token: a retried submit names the same
		// job, finds it, and JetStream stores concurrent retries once.
		id = tokenUUID(in.ClientToken)
		if first, err := s.lookupJob(ctx, id); err != nil || first != nil {
			return submitted(first), err
		}
	}
	job, err := buildJob(in, def, q, id, s.now().UnixMilli())
	if err != nil {
		return nil, err
	}
	if job.NodeProperties != nil {
		if err := s.checkNodeContainers(job.NodeProperties); err != nil {
			return nil, err
		}
	} else if job.Container != nil {
		if _, err := s.containerSpec("the job's container (definition and containerOverrides)", job.Container.Settings()); err != nil {
			return nil, err
		}
	}
	if t := job.EcsProperties.Task(); t != nil {
		for i := range t.Containers {
			c := &t.Containers[i]
			field := fmt.Sprintf("the job's container %s (definition and ecsPropertiesOverride)", c.Name)
			if _, err := s.containerSpec(field, c.Settings(t)); err != nil {
				return nil, err
			}
		}
	}
	size := 0
	if in.ArrayProperties != nil {
		size = in.ArrayProperties.Size
	}
	if err := s.checkDependenciesExist(ctx, in.DependsOn, size); err != nil {
		return nil, err
	}
	if job.ConsumableResourceProperties, err = s.jobConsumables(ctx, def, in); err != nil {
		return nil, err
	}
	// The job's trace is the one of this request's span: its id is shown
	// by DescribeJobs, its traceparent lets the scheduler continue it.
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(telemetry.JobID(id))
	if sc := span.SpanContext(); sc.HasTraceID() {
		job.TraceID = sc.TraceID().String()
		job.TraceParent = telemetry.TraceParent(ctx)
	}
	ev := events.JobSubmitted{Job: job}
	ack, err := bus.Publish(ctx, s.js, ev)
	if err != nil {
		return nil, fmt.Errorf("store job %s: %w", id, err)
	}
	if ack.Duplicate && in.ClientToken != "" {
		// A concurrent retry stored it first: answer with that job.
		first, err := s.lookupJob(ctx, id)
		if err != nil || first != nil {
			return submitted(first), err
		}
	}
	s.log.DebugContext(ctx, "job submitted", telemetry.LogJobID, id, "name", job.JobName, "queue", q.JobQueueName, "definition", def.JobDefinitionArn)
	return &batch.SubmitJobOutput{JobArn: job.JobArn, JobName: job.JobName, JobID: id}, nil
}

// submitted is the SubmitJob answer for an existing job.
func submitted(j *batch.JobDetail) *batch.SubmitJobOutput {
	if j == nil {
		return nil
	}
	return &batch.SubmitJobOutput{JobArn: j.JobArn, JobName: j.JobName, JobID: j.JobID}
}

// tokenUUID is the job id of a clientToken: a name-based UUID (version 8,
// SHA-256 of the token), so every replica derives the same id.
func tokenUUID(token string) string {
	sum := sha256.Sum256([]byte("batchd/clientToken/" + token))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x80 // version 8
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// checkDependenciesExist makes sure every job named in dependsOn exists,
// and that an N_TO_N dependency is an array job of the same size
// (arraySize, 0 for a job that is not an array).
func (s *Server) checkDependenciesExist(ctx context.Context, deps []batch.JobDependency, arraySize int) error {
	type want struct {
		id   string
		nToN bool
	}
	var ids []want
	seen := make(map[want]bool, len(deps))
	for _, d := range deps {
		w := want{d.JobID, d.Type == batch.DependencyNToN}
		if d.JobID != "" && !seen[w] {
			seen[w] = true
			ids = append(ids, w)
		}
	}
	problems := make([]error, len(ids))
	err := forEach(ctx, len(ids), lookupParallelism, func(ctx context.Context, i int) error {
		w := ids[i]
		if !w.nToN {
			ok, err := s.jobExists(ctx, w.id)
			if err == nil && !ok {
				problems[i] = clientErr("dependsOn job %s does not exist: give the jobId that SubmitJob returned for it", w.id)
			}
			return err
		}
		j, err := s.lookupJob(ctx, w.id)
		switch {
		case err != nil:
			return err
		case j == nil:
			problems[i] = clientErr("dependsOn job %s does not exist: give the jobId that SubmitJob returned for it", w.id)
		case !j.IsArrayParent():
			problems[i] = clientErr("dependsOn job %s is not an array job: an N_TO_N dependency names an array job of the same size", w.id)
		case j.ArrayProperties.Size != arraySize:
			problems[i] = clientErr("dependsOn array job %s has %d children and this one %d: an N_TO_N dependency needs arrays of the same size", w.id, j.ArrayProperties.Size, arraySize)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range problems {
		if p != nil {
			return p
		}
	}
	return nil
}
