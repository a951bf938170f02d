package notifier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// HeaderMessageID carries the MessageId on NATS deliveries (also sent as
// Nats-Msg-Id, so a JetStream stream on the subject stores it once).
const HeaderMessageID = "Batch-Message-Id"

// HeaderRule names the rule on NATS deliveries.
const HeaderRule = "Batch-Rule"

// sendNATS publishes the event JSON on the target's subject. When a
// JetStream stream captures the subject, the delivery counts once the
// stream has stored it; otherwise it is a plain publish, flushed to the
// server (NATS core delivers to the subscribers present at that moment).
func (n *notifier) sendNATS(ctx context.Context, t batch.NotificationTarget, note events.Notification) error {
	m := nats.NewMsg(t.Endpoint)
	m.Data = note.Event
	m.Header.Set(events.HeaderType, note.EventType)
	m.Header.Set(jetstream.MsgIDHeader, note.MessageID)
	m.Header.Set(HeaderMessageID, note.MessageID)
	m.Header.Set(HeaderRule, note.RuleName)
	bus.Inject(ctx, m.Header)
	captured, err := n.streamCaptures(ctx, t.Endpoint)
	switch {
	case err != nil:
		return err
	case captured:
		if _, err := n.js.PublishMsg(ctx, m, jetstream.WithRetryAttempts(0)); err != nil {
			return fmt.Errorf("publish to %s: %w", t.Endpoint, err)
		}
		return nil
	}
	// No stream on the subject: a core NATS publish.
	delete(m.Header, jetstream.MsgIDHeader)
	if err := n.nc.PublishMsg(m); err != nil {
		return fmt.Errorf("publish to %s: %w", t.Endpoint, err)
	}
	if err := n.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("flush publish to %s: %w", t.Endpoint, err)
	}
	return nil
}

// streamCacheTTL is how long the notifier remembers whether a stream
// captures a subject.
const streamCacheTTL = 5 * time.Second

type streamLookup struct {
	captured bool
	at       time.Time
}

// streamCaptures reports whether a JetStream stream stores messages
// published on subject, asking the server at most every streamCacheTTL.
func (n *notifier) streamCaptures(ctx context.Context, subject string) (bool, error) {
	n.streamsMu.Lock()
	l, ok := n.streams[subject]
	n.streamsMu.Unlock()
	if ok && time.Since(l.at) < streamCacheTTL {
		return l.captured, nil
	}
	_, err := n.js.StreamNameBySubject(ctx, subject)
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return false, fmt.Errorf("find the stream of %s: %w", subject, err)
	}
	l = streamLookup{captured: err == nil, at: time.Now()}
	n.streamsMu.Lock()
	n.streams[subject] = l
	n.streamsMu.Unlock()
	return l.captured, nil
}
