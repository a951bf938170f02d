package bus

import (
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// AsyncAckTimeout is how long an asynchronous publish waits for its
// acknowledgement before its future fails with a timeout. Without one a
// message sent while a stream has no leader (a NATS node lost) would wait
// for ever, and so would whoever settles it.
const AsyncAckTimeout = 10 * time.Second

// JetStream is the JetStream context every service uses: nc's, with
// AsyncAckTimeout on asynchronous publishes.
func JetStream(nc *nats.Conn) (jetstream.JetStream, error) {
	return jetstream.New(nc, jetstream.WithPublishAsyncTimeout(AsyncAckTimeout))
}
