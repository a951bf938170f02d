package launcher

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
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
//
// Lines are published asynchronously, up to logWindow unconfirmed. A line
// whose store is not confirmed (a NATS node lost, a leader election) is
// in doubt: once the stream answers again, the lines of the window that
// it does not hold are published again, in order, until each is stored
// or ctx ends. A fault of the cluster loses no output and stores no line
// twice; the lines sent again come after the ones of their window that
// were stored the first time.
func (l *launcher) shipLogs(ctx context.Context, subject, name, id string, from resumePoint) error {
	out := make(chan runtime.LogLine, 256)
	errc := make(chan error, 1)
	go func() { errc <- l.rt.Logs(ctx, id, from.since, out) }()
	skip := from.stored
	// Line ids unique to this copy: a re-adopting launcher's copy has
	// its own token.
	prefix := randomToken() + "."
	n := 0
	var w logWindow
	var firstErr error
	flush := func() {
		if err := l.settleLogs(ctx, subject, &w); err != nil && firstErr == nil {
			firstErr = err
		}
		w = logWindow{msgs: w.msgs[:0], futures: w.futures[:0]}
	}
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
		n++
		m.Header.Set(events.HeaderLine, prefix+strconv.Itoa(n))
		if len(w.msgs) == 0 {
			w.since = time.Now()
		}
		f, err := l.js.PublishMsgAsync(m)
		w.msgs = append(w.msgs, m)
		w.futures = append(w.futures, f) // nil when not sent: in doubt
		if err != nil || len(w.msgs) >= logWindowSize {
			flush()
		}
	}
	flush()
	if err := <-errc; err != nil {
		firstErr = errors.Join(firstErr, err)
	}
	return firstErr
}

// logWindowSize is how many log lines may wait for their store to be
// confirmed.
const logWindowSize = 512

// logWindow is the log lines published since the last confirmation.
type logWindow struct {
	msgs    []*nats.Msg
	futures []jetstream.PubAckFuture // futures[i] is msgs[i]'s, nil when not sent
	since   time.Time                // when the first was published
}

// settleLogs waits for the stores of the window's lines and makes sure
// that each one that was not confirmed is stored once. It returns an
// error only when ctx ends first.
func (l *launcher) settleLogs(ctx context.Context, subject string, w *logWindow) error {
	var doubt []*nats.Msg
	for i, f := range w.futures {
		if f == nil {
			doubt = append(doubt, w.msgs[i])
			continue
		}
		select {
		case <-f.Ok():
		case <-f.Err():
			doubt = append(doubt, w.msgs[i])
		case <-ctx.Done():
			return fmt.Errorf("store log lines: %w", ctx.Err())
		}
	}
	wait := 100 * time.Millisecond
	for len(doubt) > 0 {
		stored, err := l.storedLines(ctx, subject, w.since)
		for err == nil && len(doubt) > 0 {
			if stored[doubt[0].Header.Get(events.HeaderLine)] {
				doubt = doubt[1:]
				continue
			}
			if _, err = l.js.PublishMsg(ctx, doubt[0]); err == nil {
				doubt = doubt[1:]
			}
		}
		if len(doubt) == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("store log lines: %w", ctx.Err())
		}
		l.log.WarnContext(ctx, "storing log lines failed, trying again", "subject", subject, "lines", len(doubt), "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("store log lines: %w", ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
	return nil
}

// storedLines is the set of line ids stored on subject since about since
// (a minute earlier, for clocks that differ).
func (l *launcher) storedLines(ctx context.Context, subject string, since time.Time) (map[string]bool, error) {
	cons, err := l.js.OrderedConsumer(ctx, events.StreamLogs, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverByStartTimePolicy,
		OptStartTime: ptr(since.Add(-time.Minute)), HeadersOnly: true,
	})
	if err != nil {
		return nil, err
	}
	stored := map[string]bool{}
	for {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return nil, err
		}
		n, pending := 0, uint64(0)
		for m := range batch.Messages() {
			n++
			stored[m.Headers().Get(events.HeaderLine)] = true
			if md, err := m.Metadata(); err == nil {
				pending = md.NumPending
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, err
		}
		if n == 0 || pending == 0 {
			return stored, nil
		}
	}
}

// randomToken is 8 random bytes in hex.
func randomToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
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
