package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/natstest"
	"github.com/nats-io/nats.go/jetstream"
)

// TestPublishWaitsForTheStream: a publish while no stream takes the
// subject (as while a stream elects a leader) is stored once the stream
// answers, instead of failing at once.
func TestPublishWaitsForTheStream(t *testing.T) {
	s := natstest.RunBare(t, "")
	js, err := jetstream.New(s.Conn(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	created := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond) // the stream comes later: what is tested
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "LATE", Subjects: []string{"late.>"}})
		created <- err
	}()
	ack, err := bus.Publish(ctx, js, lateEvent{N: 1})
	if err != nil {
		t.Fatalf("publish before the stream existed: %v", err)
	}
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	if ack.Stream != "LATE" || ack.Sequence != 1 {
		t.Fatalf("ack %+v, want LATE #1", ack)
	}
}

type lateEvent struct{ N int }

func (lateEvent) Subject() string { return "late.one" }
func (lateEvent) Type() string    { return "test.late" }
func (lateEvent) MsgID() string   { return "late/1" }
