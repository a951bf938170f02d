package dashboard

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go/jetstream"
)

// A job's log, read as batchctl logs reads it: an ordered consumer on
// BATCH_LOGS filtered to the job's subjects (batch.logs.<job>.<attempt>),
// from the first stored line, then following new ones.

// logLine is one line in a "logs" event.
type logLine struct {
	Attempt int    `json:"a"`
	Stream  string `json:"s"` // stdout or stderr
	Time    string `json:"t,omitempty"`
	Line    string `json:"l"`
}

// maxLinesPerEvent bounds the lines of one "logs" event.
const maxLinesPerEvent = 500

// followLogs sends the job's lines to out as "logs" events, and
// "logs-stored" once it has sent what was stored, until ctx is done.
func (d *Dashboard) followLogs(ctx context.Context, jobID string, out chan<- sseMsg) {
	send := func(m sseMsg) bool {
		select {
		case out <- m:
			return true
		case <-ctx.Done():
			return false
		}
	}
	fail := func(err error) {
		data, _ := json.Marshal(map[string]string{"message": err.Error()})
		send(sseMsg{event: "logs-error", data: data})
	}
	stream, err := d.js.Stream(ctx, events.StreamLogs)
	if err != nil {
		fail(fmt.Errorf("open stream %s: %w", events.StreamLogs, err))
		return
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.LogFilter(jobID)},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		fail(fmt.Errorf("read the lines of %s: %w", jobID, err))
		return
	}
	info, err := cons.Info(ctx)
	stored := err == nil && info.NumPending == 0
	if stored && !send(sseMsg{event: "logs-stored", data: []byte("{}")}) {
		return
	}
	it, err := cons.Messages()
	if err != nil {
		fail(fmt.Errorf("read the lines of %s: %w", jobID, err))
		return
	}
	go func() {
		<-ctx.Done()
		it.Stop()
	}()
	msgs := make(chan jetstream.Msg, maxLinesPerEvent)
	go func() {
		defer close(msgs)
		for {
			m, err := it.Next()
			if err != nil {
				return
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	line := func(m jetstream.Msg) (logLine, uint64) {
		pending := uint64(1)
		if meta, err := m.Metadata(); err == nil {
			pending = meta.NumPending
		}
		return logLine{Attempt: events.LogAttempt(m.Subject()), Stream: m.Headers().Get(events.HeaderStream),
			Time: m.Headers().Get(events.HeaderLogTime), Line: string(m.Data())}, pending
	}
	for {
		m, ok := <-msgs
		if !ok {
			return
		}
		l, pending := line(m)
		lines := []logLine{l}
	more:
		for len(lines) < maxLinesPerEvent {
			select {
			case m, ok = <-msgs:
				if !ok {
					break more
				}
				l, pending = line(m)
				lines = append(lines, l)
			default:
				break more
			}
		}
		if !d.sendLines(send, lines) {
			return
		}
		if !stored && pending == 0 {
			if !send(sseMsg{event: "logs-stored", data: []byte("{}")}) {
				return
			}
			stored = true
		}
	}
}

// sendLines sends one "logs" event.
func (d *Dashboard) sendLines(send func(sseMsg) bool, lines []logLine) bool {
	data, err := json.Marshal(lines)
	if err != nil {
		return true
	}
	return send(sseMsg{event: "logs", data: data})
}
