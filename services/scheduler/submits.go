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

// feedSubmits sends the loop every submit stored since since (headers
// only, in stream order: an ordered consumer, which the client recreates
// after a server restart), then, once it has reached the last submit
// stored when it began, a heardSubmitMsg without a job: the loop decides
// nothing before that, as for the buckets' initial values.
func feedSubmits(ctx context.Context, js jetstream.JetStream, stream jetstream.Stream, since time.Time,
	out chan<- update, log *slog.Logger) error {
	filter := events.FactFilter("submit")
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream %s: %w", events.StreamJobs, err)
	}
	upTo := info.State.LastSeq // every submit up to it is sent before the mark
	var target uint64
	last, err := stream.GetLastMsgForSubject(ctx, filter)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
	case err != nil:
		return fmt.Errorf("last submit: %w", err)
	case !last.Time.Before(since):
		target = last.Sequence
	}
	cons, err := js.OrderedConsumer(ctx, events.StreamJobs, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverByStartTimePolicy,
		OptStartTime: &since, HeadersOnly: true})
	if err != nil {
		return fmt.Errorf("submits consumer: %w", err)
	}
	send := func(u update) bool {
		select {
		case out <- u:
			return true
		case <-ctx.Done():
			return false
		}
	}
	caughtUp := update{bucket: submitsFeed, submit: &heardSubmitMsg{seq: upTo}}
	if target == 0 && !send(caughtUp) {
		return nil
	}
	msgs, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("submits consumer: %w", err)
	}
	go func() { <-ctx.Done(); msgs.Stop() }()
	for {
		m, err := msgs.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			log.Warn("submits consumer", "err", err)
			continue
		}
		md, err := m.Metadata()
		if err != nil {
			continue
		}
		seq := md.Sequence.Stream
		if job, ok := events.SubmittedJob(m.Headers().Get(jetstream.MsgIDHeader)); ok {
			if !send(update{bucket: submitsFeed, submit: &heardSubmitMsg{job: job, seq: seq}}) {
				return nil
			}
		}
		if target != 0 && seq >= target {
			target = 0
			if !send(caughtUp) {
				return nil
			}
		}
	}
}

// submitsFeed names the submits in updates (not a bucket).
const submitsFeed = "submits"
