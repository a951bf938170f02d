package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go/jetstream"
)

// heardSubmitMsg is one submit of the stream, as the horizon needs it;
// without a job, it says that every submit up to seq was sent.
type heardSubmitMsg struct {
	job string
	seq uint64
}

// submitsFeed names the submits in updates (not a bucket).
const submitsFeed = "submits"

// feedSubmits sends the loop every submit stored since since (headers
// only, in stream order), then, once it has reached the last submit
// stored when it began, a heardSubmitMsg without a job: the loop decides
// nothing before that, as for the buckets' initial values. It runs until
// ctx ends: when its consumer fails (a server or stream leader lost) it
// starts again after the last submit it sent.
func feedSubmits(ctx context.Context, js jetstream.JetStream, stream jetstream.Stream, since time.Time,
	out chan<- update, log *slog.Logger) {
	f := &submitFeed{js: js, out: out}
	for {
		var err error
		if !f.begun {
			err = f.begin(ctx, stream)
		}
		if err == nil {
			err = f.run(ctx, since)
		}
		if ctx.Err() != nil {
			return
		}
		log.Warn("submits feed: starting again in 1 s (jobs submitted meanwhile wait for it)", "err", err,
			"after", f.last)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// submitFeed is feedSubmits' position.
type submitFeed struct {
	js  jetstream.JetStream
	out chan<- update
	// begun: target (the last submit when the feed began) and upTo (the
	// stream's last sequence then) are known; marked: the feed has sent
	// that it caught up.
	begun, marked bool
	target, upTo  uint64
	last          uint64 // the last submit sent
}

// begin works out where the feed catches up: every submit up to the
// stream's last sequence now.
func (f *submitFeed) begin(ctx context.Context, stream jetstream.Stream) error {
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream %s: %w", events.StreamJobs, err)
	}
	last, err := stream.GetLastMsgForSubject(ctx, events.FactFilter("submit"))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
	case err != nil:
		return fmt.Errorf("last submit: %w", err)
	default:
		f.target = last.Sequence
	}
	f.upTo, f.begun = max(info.State.LastSeq, f.target), true
	return nil
}

// run consumes from since (or after the last submit sent) until the
// consumer fails or ctx ends.
func (f *submitFeed) run(ctx context.Context, since time.Time) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.FactFilter("submit")}, HeadersOnly: true,
		DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &since}
	if f.last != 0 {
		cfg.DeliverPolicy, cfg.OptStartTime, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, nil, f.last+1
	}
	cons, err := f.js.OrderedConsumer(ctx, events.StreamJobs, cfg)
	if err != nil {
		return fmt.Errorf("submits consumer: %w", err)
	}
	if !f.markIfCaughtUp(ctx) {
		return nil
	}
	msgs, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("submits consumer: %w", err)
	}
	stop := context.AfterFunc(ctx, msgs.Stop)
	defer stop()
	defer msgs.Stop()
	for {
		m, err := msgs.Next()
		if err != nil {
			return fmt.Errorf("submits consumer: %w", err)
		}
		md, err := m.Metadata()
		if err != nil {
			continue
		}
		seq := md.Sequence.Stream
		if job, ok := events.SubmittedJob(m.Headers().Get(jetstream.MsgIDHeader)); ok {
			if !f.send(ctx, update{bucket: submitsFeed, submit: &heardSubmitMsg{job: job, seq: seq}}) {
				return nil
			}
		}
		f.last = seq
		if !f.markIfCaughtUp(ctx) {
			return nil
		}
	}
}

// markIfCaughtUp sends, once, that the feed caught up, when it has sent
// the last submit there was when it began. It reports false when ctx
// ended.
func (f *submitFeed) markIfCaughtUp(ctx context.Context) bool {
	if f.marked || f.last < f.target {
		return true
	}
	f.marked = true
	return f.send(ctx, update{bucket: submitsFeed, submit: &heardSubmitMsg{seq: f.upTo}})
}

func (f *submitFeed) send(ctx context.Context, u update) bool {
	select {
	case f.out <- u:
		return true
	case <-ctx.Done():
		return false
	}
}
