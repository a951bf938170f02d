package bus

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NewMsg builds a JSON message with its type header, de-duplication id and
// the trace context of ctx.
func NewMsg(ctx context.Context, subject, typ, msgID string, v any) (*nats.Msg, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", typ, err)
	}
	m := nats.NewMsg(subject)
	m.Data = data
	m.Header.Set(events.HeaderType, typ)
	if msgID != "" {
		m.Header.Set(jetstream.MsgIDHeader, msgID)
	}
	Inject(ctx, m.Header)
	return m, nil
}

// Publish stores v on subject and waits for JetStream to acknowledge it.
func Publish(ctx context.Context, js jetstream.JetStream, subject, typ, msgID string, v any) (*jetstream.PubAck, error) {
	m, err := NewMsg(ctx, subject, typ, msgID, v)
	if err != nil {
		return nil, err
	}
	ack, err := js.PublishMsg(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", subject, err)
	}
	return ack, nil
}

// PublishAsync stores v on subject without waiting; the returned future
// resolves when JetStream acknowledges it.
func PublishAsync(ctx context.Context, js jetstream.JetStream, subject, typ, msgID string, v any) (jetstream.PubAckFuture, error) {
	m, err := NewMsg(ctx, subject, typ, msgID, v)
	if err != nil {
		return nil, err
	}
	f, err := js.PublishMsgAsync(m)
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", subject, err)
	}
	return f, nil
}
