package bus

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// PublishRetryFor is how long a publish is tried again while JetStream
// cannot take it: a stream electing a new leader after the loss of a
// cluster node answers no one for a few seconds.
const PublishRetryFor = 30 * time.Second

// publishAttempt bounds one attempt, so that a publish sent to a server
// that went away is sent again rather than awaited for the whole context.
const publishAttempt = 5 * time.Second

// publishMsg stores m, trying again (with backoff, within ctx and
// PublishRetryFor) while the failure is transient. A message with a
// Nats-Msg-Id is tried again after any transient failure, a timeout
// included, since the stream stores it once; one without only when the
// stream surely did not store it (nobody answered).
func publishMsg(ctx context.Context, js jetstream.JetStream, m *nats.Msg) (*jetstream.PubAck, error) {
	deadline := time.Now().Add(PublishRetryFor)
	wait := 50 * time.Millisecond
	idempotent := m.Header.Get(jetstream.MsgIDHeader) != ""
	for {
		actx, cancel := context.WithTimeout(ctx, publishAttempt)
		ack, err := js.PublishMsg(actx, m)
		cancel()
		if err == nil {
			return ack, nil
		}
		again := Transient(err) && (idempotent || notStored(err))
		if !again || ctx.Err() != nil || time.Now().After(deadline) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// notStored reports a failure after which the message surely is not in
// the stream: no server took it.
func notStored(err error) bool {
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.Code == 503
}
