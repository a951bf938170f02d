package scheduler

import (
	"context"
	"sync"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/services/scheduler/internal/plan"
)

// fetchConcurrency bounds the record reads of one pass in flight at once.
const fetchConcurrency = 32

// fetched is a job record read for a placement, or why it could not be.
type fetched struct {
	*batch.JobDetail
	err error
}

// fetchRecords reads the records of a pass's placements (the launch order
// is built from them) concurrently: one pass placing hundreds of jobs
// waits for about one round trip, not one per placement.
func (s *scheduler) fetchRecords(ctx context.Context, places []plan.Placement) []fetched {
	out := make([]fetched, len(places))
	if len(places) == 0 {
		return out
	}
	sem := make(chan struct{}, fetchConcurrency)
	var wg sync.WaitGroup
	for i, p := range places {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			rec := &batch.JobDetail{}
			_, err := bus.GetJSON(ctx, s.jobs, events.Token(p.Job.ID), rec)
			out[i] = fetched{JobDetail: rec, err: err}
		})
	}
	wg.Wait()
	return out
}
