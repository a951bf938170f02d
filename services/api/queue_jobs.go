package api

import (
	"context"
	"fmt"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
)

// terminateQueueJobs terminates the jobs of a queue being deleted that
// have not finished, as AWS does ("all jobs in the queue are eventually
// terminated"): a TerminateJob fact for each top-level job (an array
// parent's fact covers its children). It returns how many it terminated.
func (s *Server) terminateQueueJobs(ctx context.Context, queue string) (int, error) {
	if err := s.index.waitReady(ctx); err != nil {
		return 0, err
	}
	ids := s.index.unfinished(groupQueue + queue)
	reason := fmt.Sprintf("Terminated because job queue %s was deleted", queue)
	now := s.now().UnixMilli()
	err := forEach(ctx, len(ids), lookupParallelism, func(ctx context.Context, i int) error {
		ev := events.JobTerminate{JobID: ids[i], Reason: reason, By: events.ByUser, Time: now}
		if _, err := bus.Publish(ctx, s.js, ev); err != nil {
			return fmt.Errorf("store termination of job %s: %w", ids[i], err)
		}
		return nil
	})
	return len(ids), err
}

// unfinished returns the ids of a group's jobs that are not SUCCEEDED or
// FAILED.
func (x *jobIndex) unfinished(group string) []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	g := x.groups[group]
	if g == nil {
		return nil
	}
	var ids []string
	for i, st := range batch.AllStatuses {
		if st.Final() {
			continue
		}
		g.byStatus[i].ascend(nil, func(e *jobEntry) bool {
			ids = append(ids, e.key.id)
			return true
		})
	}
	return ids
}
