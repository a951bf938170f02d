package monitor

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/natstest"
	"github.com/nats-io/nats.go/jetstream"
)

// A store of a build before the partitions: its monitor's consumer had
// not applied a fact stored on an old subject, so the monitor refuses to
// start; once that consumer has applied it, the monitor starts and
// deletes the old consumer.
func TestRefusesUnappliedPrePartitionFacts(t *testing.T) {
	s := natstest.Run(t, "")
	js, err := jetstream.New(s.Conn(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old, err := js.CreateOrUpdateConsumer(ctx, events.StreamJobs, jetstream.ConsumerConfig{
		Durable: "monitor", FilterSubject: events.SubjectJobs, AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "batch.job.submit.old1", []byte(`{"job":{"jobId":"old1"}}`)); err != nil {
		t.Fatal(err)
	}
	err = Run(ctx, DefaultConfig(), Deps{NATS: s.Conn(t)})
	if !errors.Is(err, errPrePartitionFacts) {
		t.Fatalf("monitor on a store with an unapplied fact of an earlier build: %v, want a refusal", err)
	}
	// The old build applies it.
	msgs, err := old.Fetch(1)
	if err != nil {
		t.Fatal(err)
	}
	for m := range msgs.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Run(mctx, DefaultConfig(), Deps{NATS: s.Conn(t)}) }()
	for {
		_, err := js.Consumer(ctx, events.StreamJobs, "monitor")
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("monitor stopped: %v", err)
		case <-ctx.Done():
			t.Fatal("the old consumer was not deleted")
		case <-time.After(50 * time.Millisecond):
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
