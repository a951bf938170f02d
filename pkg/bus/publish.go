package bus

import (
	"context"
	"fmt"

	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/encoding/json"
)

// NewMsg builds the message of an event: its JSON on the event's subject,
// with its type header, its de-duplication id and the trace context of ctx.
func NewMsg(ctx context.Context, ev events.Event) (*nats.Msg, error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", ev.Type(), err)
	}
	m := nats.NewMsg(ev.Subject())
	m.Data = data
	m.Header.Set(events.HeaderType, ev.Type())
	if id := ev.MsgID(); id != "" {
		m.Header.Set(jetstream.MsgIDHeader, id)
	}
	Inject(ctx, m.Header)
	return m, nil
}

// Publish stores an event and waits for JetStream to acknowledge it,
// trying again while JetStream cannot take it (retry.go).
func Publish(ctx context.Context, js jetstream.JetStream, ev events.Event) (*jetstream.PubAck, error) {
	m, err := NewMsg(ctx, ev)
	if err != nil {
		return nil, err
	}
	ack, err := publishMsg(ctx, js, m)
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", m.Subject, err)
	}
	return ack, nil
}

// PublishAsync stores an event without waiting; the returned future
// resolves when JetStream acknowledges it.
func PublishAsync(ctx context.Context, js jetstream.JetStream, ev events.Event) (jetstream.PubAckFuture, error) {
	m, err := NewMsg(ctx, ev)
	if err != nil {
		return nil, err
	}
	f, err := js.PublishMsgAsync(m)
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", m.Subject, err)
	}
	return f, nil
}

// WithMsgID is ev stored under another de-duplication id (a replay that
// must not be taken for the original).
func WithMsgID(ev events.Event, id string) events.Event { return renamed{ev, id} }

type renamed struct {
	events.Event
	id string
}

func (r renamed) MsgID() string                { return r.id }
func (r renamed) MarshalJSON() ([]byte, error) { return json.Marshal(r.Event) }
