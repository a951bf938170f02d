package monitor

import (
	"context"
	"sync"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/encoding/json"
)

// jobView is what the periodic tasks (time limits, history retention) know
// of the jobs and queues: a KV watch of each bucket keeps it current, on
// every replica, independently of which replica applies which fact.
type jobView struct {
	mu sync.Mutex
	// waiting holds the PENDING and RUNNABLE jobs (not array parents).
	waiting map[string]*viewJob
	// finished holds when each final job stopped (only kept when a
	// retention is configured).
	finished map[string]int64
	queues   map[string][]batch.JobStateTimeLimitAction
	keepDone bool
	ready    chan struct{}
}

// viewJob is the part of a job record the time limits need.
type viewJob struct {
	ID              string                          `json:"jobId"`
	Queue           string                          `json:"jobQueueName"`
	QueueRef        string                          `json:"jobQueue"`
	Status          batch.JobStatus                 `json:"status"`
	StatusReason    string                          `json:"statusReason"`
	StatusChangedAt int64                           `json:"statusChangedAt"`
	CreatedAt       int64                           `json:"createdAt"`
	StoppedAt       int64                           `json:"stoppedAt"`
	Seq             uint64                          `json:"seq"`
	Limits          []batch.JobStateTimeLimitAction `json:"jobStateTimeLimitActions"`
	Array           *struct {
		Size  int  `json:"size"`
		Index *int `json:"index"`
	} `json:"arrayProperties"`
}

// since is when the job entered its status.
func (j *viewJob) since() int64 {
	if j.StatusChangedAt != 0 {
		return j.StatusChangedAt
	}
	return j.CreatedAt
}

func newJobView(keepDone bool) *jobView {
	return &jobView{waiting: map[string]*viewJob{}, finished: map[string]int64{},
		queues: map[string][]batch.JobStateTimeLimitAction{}, keepDone: keepDone, ready: make(chan struct{})}
}

// watch follows the jobs and queues buckets until ctx ends.
func (v *jobView) watch(ctx context.Context, js jetstream.JetStream) error {
	jobs, err := js.KeyValue(ctx, events.BucketJobs)
	if err != nil {
		return err
	}
	queues, err := js.KeyValue(ctx, events.BucketQueues)
	if err != nil {
		return err
	}
	jw, err := jobs.WatchAll(ctx)
	if err != nil {
		return err
	}
	qw, err := queues.WatchAll(ctx)
	if err != nil {
		_ = jw.Stop()
		return err
	}
	go func() {
		defer func() { _ = jw.Stop(); _ = qw.Stop() }()
		jobsLoaded, queuesLoaded := false, false
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-jw.Updates():
				if !ok {
					return
				}
				if e == nil {
					jobsLoaded = true
				} else {
					v.putJob(e)
				}
			case e, ok := <-qw.Updates():
				if !ok {
					return
				}
				if e == nil {
					queuesLoaded = true
				} else {
					v.putQueue(e)
				}
			}
			if jobsLoaded && queuesLoaded {
				select {
				case <-v.ready:
				default:
					close(v.ready)
				}
			}
		}
	}()
	return nil
}

func (v *jobView) putJob(e jetstream.KeyValueEntry) {
	v.mu.Lock()
	defer v.mu.Unlock()
	key := e.Key()
	delete(v.waiting, key)
	delete(v.finished, key)
	if e.Operation() != jetstream.KeyValuePut {
		return
	}
	var j viewJob
	if json.Unmarshal(e.Value(), &j) != nil || j.ID == "" {
		return
	}
	if j.Queue == "" {
		j.Queue = batch.NameFromRef(batch.KindJobQueue, j.QueueRef)
	}
	switch {
	case j.Status.Final():
		if v.keepDone {
			v.finished[key] = j.StoppedAt
		}
	case j.Array != nil && j.Array.Index == nil && j.Array.Size > 0:
		// an array parent: its children carry the limits
	case j.Status == batch.StatusPending || j.Status == batch.StatusRunnable:
		v.waiting[key] = &j
	}
}

func (v *jobView) putQueue(e jetstream.KeyValueEntry) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.queues, e.Key())
	if e.Operation() != jetstream.KeyValuePut {
		return
	}
	var q struct {
		Name    string          `json:"jobQueueName"`
		Actions json.RawMessage `json:"jobStateTimeLimitActions"`
	}
	if json.Unmarshal(e.Value(), &q) != nil || len(q.Actions) == 0 {
		return
	}
	var acts []batch.JobStateTimeLimitAction
	if json.Unmarshal(q.Actions, &acts) == nil && len(acts) > 0 {
		v.queues[q.Name] = acts
	}
}
