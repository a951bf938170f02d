package bus

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Backlog is how many messages the consumers of stream whose names begin
// with prefix have not settled yet (pending and unacknowledged), and how
// many such consumers there are: for waiting until a service that spreads
// its work over several consumers (the monitor's partitions) is idle.
func Backlog(ctx context.Context, js jetstream.JetStream, stream, prefix string) (messages uint64, consumers int, err error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, 0, fmt.Errorf("backlog of %s: %w", stream, err)
	}
	l := s.ListConsumers(ctx)
	for info := range l.Info() {
		if !strings.HasPrefix(info.Name, prefix) {
			continue
		}
		consumers++
		messages += info.NumPending + uint64(info.NumAckPending)
	}
	if err := l.Err(); err != nil {
		return 0, 0, fmt.Errorf("backlog of %s: %w", stream, err)
	}
	return messages, consumers, nil
}
