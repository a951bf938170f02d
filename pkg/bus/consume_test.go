package bus_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/natstest"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace/noop"
)

// consumeRig is a server with the streams and a running consumer of
// BATCH_JOBS.
type consumeRig struct {
	t  *testing.T
	js jetstream.JetStream
}

func newConsumeRig(t *testing.T) *consumeRig {
	t.Helper()
	s := natstest.Run(t, "")
	js, err := jetstream.New(s.Conn(t))
	if err != nil {
		t.Fatal(err)
	}
	return &consumeRig{t: t, js: js}
}

func (r *consumeRig) consume(spec bus.ConsumerSpec, h *bus.Handlers) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := bus.Consume(ctx, r.js, spec, h); err != nil {
			r.t.Error(err)
		}
	}()
	r.t.Cleanup(func() { cancel(); <-done })
}

func (r *consumeRig) publish(ev events.Event) {
	r.t.Helper()
	if _, err := bus.Publish(context.Background(), r.js, ev); err != nil {
		r.t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func spec(name string) bus.ConsumerSpec {
	return bus.ConsumerSpec{Stream: events.StreamJobs, Durable: name, Filters: []string{events.SubjectJobs},
		Backoff: func(int) time.Duration { return 10 * time.Millisecond }}
}

// A failing handler is retried with backoff; on its last delivery the
// give-up hook runs once and the message is never delivered again; a
// permanent error is not retried; an unknown type is skipped.
func TestConsumeSettles(t *testing.T) {
	r := newConsumeRig(t)
	var mu sync.Mutex
	calls := map[string]int{}
	var gaveUp []string
	h := bus.NewHandlers(noop.NewTracerProvider().Tracer(""))
	bus.On(h, "gate", func(_ context.Context, ev events.JobGated, d *bus.Delivery) error {
		mu.Lock()
		defer mu.Unlock()
		calls[ev.JobID]++
		switch ev.JobID {
		case "flaky":
			if d.NumDelivered < 3 {
				return errors.New("not yet")
			}
		case "broken":
			return errors.New("never")
		case "poison":
			return bus.Permanent(errors.New("cannot apply"))
		}
		return nil
	})
	sp := spec("settles")
	sp.MaxDeliver = 4
	sp.OnGiveUp = func(_ context.Context, ev events.Event, d *bus.Delivery, err error) {
		mu.Lock()
		defer mu.Unlock()
		gaveUp = append(gaveUp, ev.(events.JobGated).JobID+":"+err.Error())
	}
	r.consume(sp, h)
	for _, id := range []string{"ok", "flaky", "broken", "poison"} {
		r.publish(events.JobGated{JobID: id, Status: batch.StatusRunnable})
	}
	r.publish(events.JobStop{JobID: "other", Attempt: 1, HostID: "h"}) // no handler
	r.publish(events.JobGated{JobID: "last", Status: batch.StatusRunnable})
	waitFor(t, "every message settled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return calls["ok"] == 1 && calls["flaky"] == 3 && calls["broken"] == 4 && calls["poison"] == 1 &&
			calls["last"] == 1 && len(gaveUp) == 1
	})
	c, err := r.js.Consumer(context.Background(), events.StreamJobs, "settles")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "nothing pending", func() bool {
		info, err := c.Info(context.Background())
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	})
	mu.Lock()
	defer mu.Unlock()
	if gaveUp[0] != "broken:never" || calls["broken"] != 4 || calls["poison"] != 1 {
		t.Fatalf("gave up %v, calls %v", gaveUp, calls)
	}
}

// A held delivery is settled by its holder, not by the loop.
func TestConsumeHold(t *testing.T) {
	r := newConsumeRig(t)
	held := make(chan *bus.Delivery, 1)
	var deliveries sync.Map
	h := bus.NewHandlers(noop.NewTracerProvider().Tracer(""))
	bus.On(h, "placed", func(_ context.Context, ev events.JobPlaced, d *bus.Delivery) error {
		n, _ := deliveries.LoadOrStore(ev.JobID, new(int))
		*n.(*int)++
		d.Hold()
		held <- d
		return nil
	})
	sp := spec("hold")
	sp.AckWait = time.Second
	r.consume(sp, h)
	r.publish(events.JobPlaced{JobID: "j", Attempt: 1, HostID: "h"})
	d := <-held
	if err := d.Nak(0); err != nil { // first: ask again
		t.Fatal(err)
	}
	d = <-held
	if d.NumDelivered != 2 {
		t.Fatalf("second delivery numbered %d", d.NumDelivered)
	}
	if err := d.Ack(); err != nil {
		t.Fatal(err)
	}
	_ = d.Nak(0) // settling twice does nothing
	select {
	case d := <-held:
		t.Fatalf("delivered again after the ack (delivery %d)", d.NumDelivered)
	case <-time.After(2 * time.Second): // past AckWait: an unacked message would be back
	}
}

// With several workers, the events of one job are handled in stream order
// while different jobs are handled concurrently.
func TestConsumeWorkersKeepOrderPerKey(t *testing.T) {
	r := newConsumeRig(t)
	const jobs, perJob = 20, 30
	var mu sync.Mutex
	seen := map[string][]int64{}
	active, maxActive := 0, 0
	h := bus.NewHandlers(noop.NewTracerProvider().Tracer(""))
	bus.On(h, "cancel", func(_ context.Context, ev events.JobCancel, _ *bus.Delivery) error {
		mu.Lock()
		active++
		maxActive = max(maxActive, active)
		seen[ev.JobID] = append(seen[ev.JobID], ev.Time)
		mu.Unlock()
		time.Sleep(time.Millisecond) // let other workers overlap
		mu.Lock()
		active--
		mu.Unlock()
		return nil
	})
	sp := spec("workers")
	sp.Workers = 8
	for i := range perJob {
		for j := range jobs {
			r.publish(events.JobCancel{JobID: fmt.Sprintf("job%d", j), Time: int64(i)})
		}
	}
	r.consume(sp, h)
	waitFor(t, "every event handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, s := range seen {
			n += len(s)
		}
		return n == jobs*perJob
	})
	mu.Lock()
	defer mu.Unlock()
	for id, s := range seen {
		for i, v := range s {
			if v != int64(i) {
				t.Fatalf("%s handled out of order: %v", id, s)
			}
		}
	}
	if maxActive < 2 {
		t.Fatalf("workers never overlapped (max %d at once)", maxActive)
	}
}

// A job whose handler takes long (an array's expansion) delays only its
// own events: the other jobs' are handled meanwhile, however many.
func TestConsumeSlowKeyBlocksOnlyItself(t *testing.T) {
	r := newConsumeRig(t)
	release := make(chan struct{})
	var mu sync.Mutex
	handled, slowSeen := 0, []int64{}
	h := bus.NewHandlers(noop.NewTracerProvider().Tracer(""))
	bus.On(h, "cancel", func(_ context.Context, ev events.JobCancel, _ *bus.Delivery) error {
		if ev.JobID == "slow" {
			if ev.Time == 0 {
				<-release
			}
			mu.Lock()
			slowSeen = append(slowSeen, ev.Time)
			mu.Unlock()
			return nil
		}
		mu.Lock()
		handled++
		mu.Unlock()
		return nil
	})
	sp := spec("slowkey")
	sp.Workers = 2
	r.publish(events.JobCancel{JobID: "slow", Time: 0})
	r.publish(events.JobCancel{JobID: "slow", Time: 1})
	const others = 400 // more than any per-worker buffer
	for i := range others {
		r.publish(events.JobCancel{JobID: fmt.Sprintf("job%d", i), Time: int64(i)})
	}
	r.consume(sp, h)
	waitFor(t, "the other jobs handled while one is slow", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return handled == others
	})
	close(release)
	waitFor(t, "the slow job's events handled, in order", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(slowSeen) == 2
	})
	if slowSeen[0] != 0 || slowSeen[1] != 1 {
		t.Fatalf("slow job's events out of order: %v", slowSeen)
	}
}

// A message whose payload names another subject than the one it came on is
// refused: its claims are not what the publisher was allowed to say.
func TestConsumeRefusesAPayloadOfAnotherSubject(t *testing.T) {
	r := newConsumeRig(t)
	var mu sync.Mutex
	var got []string
	h := bus.NewHandlers(noop.NewTracerProvider().Tracer(""))
	bus.On(h, "exited", func(_ context.Context, ev events.JobExited, _ *bus.Delivery) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, ev.JobID)
		return nil
	})
	r.consume(spec("subjects"), h)
	forged, err := bus.NewMsg(context.Background(), events.JobExited{JobID: "forged", Attempt: 1, HostID: "other"})
	if err != nil {
		t.Fatal(err)
	}
	forged.Subject = events.ExitedSubject("mine", "forged")
	if _, err := r.js.PublishMsg(context.Background(), forged); err != nil {
		t.Fatal(err)
	}
	r.publish(events.JobExited{JobID: "real", Attempt: 1, HostID: "mine"})
	waitFor(t, "the real exit", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) > 0
	})
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != "real" {
		t.Fatalf("handled %v, want only the real exit", got)
	}
}
