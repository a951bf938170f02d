package dashboard

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/encoding/json"
)

// The hub reads the job state change events (BATCH_EVENTS,
// batch.events.job.<queue>.<status>) through an ordered consumer that
// starts at the newest event, and hands each one to the browsers
// following it (server-sent events), the plots and the timelines.

// change is one job state change event.
type change struct {
	head   eventHead
	detail json.RawMessage // the job record, as published
}

// eventHead is the part of an event's job record the hub reads for every
// event; the rest is decoded only for a browser that wants it.
type eventHead struct {
	JobID           string          `json:"jobId"`
	JobQueue        string          `json:"jobQueue"`
	JobQueueName    string          `json:"jobQueueName"`
	Status          batch.JobStatus `json:"status"`
	StatusChangedAt int64           `json:"statusChangedAt"`
	StoppedAt       int64           `json:"stoppedAt"`
	ArrayProperties *struct {
		Size  int  `json:"size"`
		Index *int `json:"index"`
	} `json:"arrayProperties"`
}

// queue is the name of the job's queue.
func (h *eventHead) queue() string {
	if h.JobQueueName != "" {
		return h.JobQueueName
	}
	return batch.NameFromRef(batch.KindJobQueue, h.JobQueue)
}

// arrayParent reports whether the job is an array parent.
func (h *eventHead) arrayParent() bool {
	return h.ArrayProperties != nil && h.ArrayProperties.Size > 0 && h.ArrayProperties.Index == nil
}

// subscriber is one browser stream; wants selects its events. Events that
// do not fit in the buffer are dropped and lost is set, so the stream can
// tell its browser to read again.
type subscriber struct {
	wants func(*eventHead) bool
	ch    chan change
	mu    sync.Mutex
	lost  bool
}

// takeLost reports (and clears) whether events were dropped.
func (s *subscriber) takeLost() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lost
	s.lost = false
	return l
}

// hub fans the events out.
type hub struct {
	log  *slog.Logger
	hist *history
	tl   *timelines
	// cut: a job that stopped before it was counted from the records at
	// start; one that stopped at or after it, from its event.
	cut int64

	mu    sync.Mutex
	subs  map[*subscriber]struct{}
	dirty bool // an event arrived since the last overview
}

func newHub(log *slog.Logger, hist *history, tl *timelines, cut int64) *hub {
	return &hub{log: log, hist: hist, tl: tl, cut: cut, subs: map[*subscriber]struct{}{}}
}

// subscribe adds a stream; the returned function removes it.
func (h *hub) subscribe(wants func(*eventHead) bool, buffer int) (*subscriber, func()) {
	s := &subscriber{wants: wants, ch: make(chan change, buffer)}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s, func() {
		h.mu.Lock()
		delete(h.subs, s)
		h.mu.Unlock()
	}
}

// takeDirty reports (and clears) whether an event arrived since the last
// call.
func (h *hub) takeDirty() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := h.dirty
	h.dirty = false
	return d
}

// run follows the events until ctx is done.
func (h *hub) run(ctx context.Context, js jetstream.JetStream) error {
	stream, err := js.Stream(ctx, events.StreamEvents)
	if err != nil {
		return fmt.Errorf("dashboard: open stream %s: %w", events.StreamEvents, err)
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.SubjectJobEventsAll},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return fmt.Errorf("dashboard: follow %s: %w", events.StreamEvents, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("dashboard: follow %s: %w", events.StreamEvents, err)
	}
	go func() {
		<-ctx.Done()
		it.Stop()
	}()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("dashboard: read %s: %w", events.StreamEvents, err)
		}
		// Job state changes only (an unknown type is for newer readers).
		if t := m.Headers().Get(events.HeaderType); t != "" && t != events.TypeJobStateChange {
			continue
		}
		h.handle(m.Data(), time.Now())
	}
}

// handle takes one event.
func (h *hub) handle(data []byte, now time.Time) {
	// One pass decodes the head; the record as published is cut out
	// only for a browser that wants it (most events have none).
	var ev struct {
		Detail eventHead `json:"detail"`
	}
	if err := json.Unmarshal(data, &ev); err != nil || ev.Detail.JobID == "" {
		h.log.Debug("dashboard: skipping an undecodable job event", "err", err)
		return
	}
	c := change{head: ev.Detail}
	at := c.head.StatusChangedAt
	if at == 0 {
		at = now.UnixMilli()
	}
	h.tl.add(c.head.JobID, c.head.Status, at)
	if c.head.Status.Final() && !c.head.arrayParent() {
		stopped := c.head.StoppedAt
		if stopped == 0 {
			stopped = at
		}
		if stopped >= h.cut {
			h.hist.finished(stopped, c.head.Status)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dirty = true
	for s := range h.subs {
		if !s.wants(&c.head) {
			continue
		}
		if c.detail == nil {
			var raw struct {
				Detail json.RawMessage `json:"detail"`
			}
			if err := json.Unmarshal(data, &raw); err != nil {
				return
			}
			c.detail = raw.Detail
		}
		select {
		case s.ch <- c:
		default:
			s.mu.Lock()
			s.lost = true
			s.mu.Unlock()
		}
	}
}

// Transition is a job entering a status at a time (ms).
type Transition struct {
	Status batch.JobStatus `json:"status"`
	At     int64           `json:"at"`
	// Attempt is the attempt an entry is about, when it is about one.
	Attempt int    `json:"attempt,omitempty"`
	Note    string `json:"note,omitempty"`
}

// timelines remembers the status changes this replica saw, for the most
// recent maxTimelines jobs (oldest forgotten first).
type timelines struct {
	mu    sync.Mutex
	max   int
	jobs  map[string][]Transition
	order []string // ring of job ids, by first change seen
	next  int
}

const (
	maxTimelines   = 20_000
	maxTransitions = 64
)

func newTimelines(n int) *timelines {
	return &timelines{max: n, jobs: map[string][]Transition{}}
}

func (t *timelines) add(id string, st batch.JobStatus, at int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.jobs[id]
	if !ok {
		if len(t.order) < t.max {
			t.order = append(t.order, id)
		} else {
			delete(t.jobs, t.order[t.next])
			t.order[t.next] = id
			t.next = (t.next + 1) % t.max
		}
	}
	if n := len(l); n > 0 && l[n-1].Status == st && l[n-1].At == at {
		return // the same change twice
	}
	if len(l) < maxTransitions {
		t.jobs[id] = append(l, Transition{Status: st, At: at})
	}
}

// get returns the changes seen for the job, oldest first.
func (t *timelines) get(id string) []Transition {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Transition(nil), t.jobs[id]...)
}
