package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go/jetstream"
)

// lookupParallelism bounds the concurrent reads of one request.
const lookupParallelism = 16

// describeJobs is the DescribeJobs operation: the record the monitor keeps
// or, for a job it has not recorded yet, the submitted job from the stream.
// Unknown ids are left out, as AWS does; an empty list gives an empty answer.
func (s *Server) describeJobs(ctx context.Context, in *batch.DescribeJobsInput) (*batch.DescribeJobsOutput, error) {
	if in.Jobs == nil {
		return nil, clientErr("jobs is required: give 1 to %d job ids", maxDescribeJobs)
	}
	if len(in.Jobs) > maxDescribeJobs {
		return nil, clientErr("jobs lists %d ids: at most %d are allowed per call", len(in.Jobs), maxDescribeJobs)
	}
	ids := make([]string, 0, len(in.Jobs))
	seen := make(map[string]bool, len(in.Jobs))
	for _, id := range in.Jobs {
		id = batch.NameFromRef(batch.KindJob, id)
		if !seen[id] && validJobID(id) {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	found := make([]*batch.JobDetail, len(ids))
	err := forEach(ctx, len(ids), lookupParallelism, func(ctx context.Context, i int) error {
		j, err := s.lookupJob(ctx, ids[i])
		found[i] = j
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &batch.DescribeJobsOutput{Jobs: make([]batch.JobDetail, 0, len(ids))}
	for _, j := range found {
		if j != nil {
			out.Jobs = append(out.Jobs, *j)
		}
	}
	return out, nil
}

// lookupJob reads a job: its record, else its submit message; nil when the
// job does not exist. id must be a valid job id.
func (s *Server) lookupJob(ctx context.Context, id string) (*batch.JobDetail, error) {
	var j batch.JobDetail
	_, err := bus.GetJSON(ctx, s.jobsKV, events.Token(id), &j)
	if err == nil {
		fillNils(&j)
		return &j, nil
	}
	if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("read job %s: %w", id, err)
	}
	msg, err := s.jobsStream.GetLastMsgForSubject(ctx, events.SubmitSubject(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read submit of job %s: %w", id, err)
	}
	var ev events.JobSubmitted
	if err := json.Unmarshal(msg.Data, &ev); err != nil {
		return nil, fmt.Errorf("decode submit of job %s: %w", id, err)
	}
	ev.Job.Seq = msg.Sequence
	fillNils(&ev.Job)
	return &ev.Job, nil
}

// jobExists reports whether a job exists: in the index, as a record, or as
// a submit the monitor has not recorded yet.
func (s *Server) jobExists(ctx context.Context, id string) (bool, error) {
	if !validJobID(id) {
		return false, nil
	}
	if s.index.has(events.Token(id)) {
		return true, nil
	}
	j, err := s.lookupJob(ctx, id)
	return j != nil, err
}

// fillNils gives the list members AWS always returns an empty list
// instead of null.
func fillNils(j *batch.JobDetail) {
	if j.Attempts == nil {
		j.Attempts = []batch.AttemptDetail{}
	}
	if j.DependsOn == nil {
		j.DependsOn = []batch.JobDependency{}
	}
	if j.PlatformCapabilities == nil {
		j.PlatformCapabilities = []string{}
	}
}

// forEach runs fn(0..n-1) on at most limit goroutines and returns the first
// error; after an error the remaining calls see a cancelled context.
func forEach(ctx context.Context, n, limit int, fn func(context.Context, int) error) error {
	if n == 1 {
		return fn(ctx, 0)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return
			}
			if err := fn(ctx, i); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}
