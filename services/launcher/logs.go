package launcher

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/services/launcher/internal/runtime"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// shipLogs copies a container's output to the logs stream, one message a
// line on subject, and returns once every line is stored. A container of a
// multi-container job (name not empty) names itself in each line's
// Batch-Container header.
func (l *launcher) shipLogs(ctx context.Context, subject, name, id string, from resumePoint) error {
	out := make(chan runtime.LogLine, 256)
	errc := make(chan error, 1)
	go func() { errc <- l.rt.Logs(ctx, id, from.since, out) }()
	skip := from.stored
	var pending []jetstream.PubAckFuture
	var firstErr error
	for line := range out {
		// Lines of the resume second that are already stored come again.
		if len(skip) > 0 {
			if line.Time.Equal(from.since) && line.Text == skip[0] {
				skip = skip[1:]
				continue
			}
			skip = nil
		}
		m := nats.NewMsg(subject)
		m.Data = []byte(line.Text)
		m.Header.Set(events.HeaderStream, line.Stream)
		if name != "" {
			m.Header.Set(events.HeaderContainer, name)
		}
		t := line.Time
		if t.IsZero() {
			t = l.clock()
		}
		m.Header.Set(events.HeaderLogTime, t.UTC().Format(time.RFC3339Nano))
		f, err := l.js.PublishMsgAsync(m)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("store log line: %w", err)
			}
			continue
		}
		pending = append(pending, f)
		if len(pending) >= 512 {
			firstErr = errors.Join(firstErr, waitAcks(ctx, pending))
			pending = pending[:0]
		}
	}
	firstErr = errors.Join(firstErr, waitAcks(ctx, pending))
	if err := <-errc; err != nil {
		firstErr = errors.Join(firstErr, err)
	}
	return firstErr
}

func waitAcks(ctx context.Context, fs []jetstream.PubAckFuture) error {
	for _, f := range fs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("store log line: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// resumePoint is where a re-adopted container's output continues: from
// the second of the last stored line (the engine's timestamps are whole
// seconds), skipping the lines of that second already stored.
type resumePoint struct {
	since  time.Time
	stored []string
}

// resumeFrom reads the tail of the output stored on subject.
func (l *launcher) resumeFrom(ctx context.Context, subject string) resumePoint {
	st, err := l.js.Stream(ctx, events.StreamLogs)
	if err != nil {
		return resumePoint{}
	}
	last, err := st.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		return resumePoint{}
	}
	since, err := time.Parse(time.RFC3339Nano, last.Header.Get(events.HeaderLogTime))
	if err != nil {
		return resumePoint{}
	}
	// Lines are stored within moments of being written: start a little
	// before the last line's second and keep the lines of that second.
	cons, err := l.js.OrderedConsumer(ctx, events.StreamLogs, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverByStartTimePolicy,
		OptStartTime: ptr(last.Time.Add(-10 * time.Second)),
	})
	if err != nil {
		return resumePoint{since: since}
	}
	rp := resumePoint{since: since}
	for {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			return rp
		}
		n := 0
		var lastSeq uint64
		for m := range batch.Messages() {
			n++
			if t, err := time.Parse(time.RFC3339Nano, m.Headers().Get(events.HeaderLogTime)); err == nil && t.Equal(since) {
				rp.stored = append(rp.stored, string(m.Data()))
			}
			if md, err := m.Metadata(); err == nil {
				lastSeq = md.Sequence.Stream
			}
		}
		if n == 0 || lastSeq >= last.Sequence {
			return rp
		}
	}
}

func ptr[T any](v T) *T { return &v }
