package monitor

import (
	"context"
	"errors"
	"fmt"

	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go/jetstream"
)

// errPrePartitionFacts: the jobs stream holds facts of a build before the
// partitions that its monitor had not applied.
var errPrePartitionFacts = errors.New("the jobs stream holds facts stored by a batchd build before the monitor's partitions " +
	"(subjects batch.job.<verb>...) that were not applied: run that build until no job is between SUBMITTED and RUNNING, " +
	"or start on a new --data folder (docs/operations.md, \"Upgrading\")")

// checkPrePartitionFacts refuses a store whose facts of a build before the
// partitions were not all applied: their subjects carry no partition, so
// no consumer of this build would ever apply them. The facts that were
// applied stay as history.
func (m *monitor) checkPrePartitionFacts(ctx context.Context) error {
	c, err := m.js.Consumer(ctx, events.StreamJobs, m.cfg.Consumer)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil // no monitor of that build consumed this stream
	}
	if err != nil {
		return fmt.Errorf("look up the consumer %s: %w", m.cfg.Consumer, err)
	}
	floor := c.CachedInfo().AckFloor.Stream
	st, err := m.js.Stream(ctx, events.StreamJobs)
	if err != nil {
		return fmt.Errorf("look up %s: %w", events.StreamJobs, err)
	}
	for _, f := range events.PrePartitionFilters() {
		msg, err := st.GetLastMsgForSubject(ctx, f)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("look up the last fact on %s: %w", f, err)
		}
		if msg.Sequence > floor {
			return fmt.Errorf("%w (%s, sequence %d, applied up to %d)", errPrePartitionFacts, msg.Subject, msg.Sequence, floor)
		}
	}
	return nil
}
