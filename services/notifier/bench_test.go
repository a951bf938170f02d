package notifier

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go"
)

// BenchmarkEventToNATSTarget measures how fast events reach a NATS target
// through the notifier (router, BATCH_NOTIFY, the target's consumer) on an
// embedded JetStream: notifications per second and the latency from the
// event's publish to its delivery (p50, p99).
func BenchmarkEventToNATSTarget(b *testing.B) {
	benchDeliver(b, func(e *env) {
		e.putRule("bench", `{"detail":{"status":["FAILED"]}}`, batch.NotificationTarget{ID: "n", Type: batch.TargetNATS, Endpoint: "bench.out"})
	}, "bench.out")
}

func benchDeliver(b *testing.B, setup func(*env), subject string) {
	e := start(b, DefaultConfig())
	setup(e)
	var mu sync.Mutex
	sent := map[string]time.Time{}
	var lat []time.Duration
	done := make(chan struct{})
	n := b.N
	sub, err := e.nc.Subscribe(subject, func(m *nats.Msg) {
		var ev events.JobStateChange
		_ = json.Unmarshal(m.Data, &ev)
		now := time.Now()
		mu.Lock()
		lat = append(lat, now.Sub(sent[ev.Detail.JobID]))
		if len(lat) == n {
			close(done)
		}
		mu.Unlock()
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	time.Sleep(100 * time.Millisecond) // the rule is loaded
	b.ResetTimer()
	start := time.Now()
	for i := range n {
		j := job("b"+itoa(i), "q", batch.StatusFailed)
		id := j.JobID + "/0/FAILED"
		mu.Lock()
		sent[j.JobID] = time.Now()
		mu.Unlock()
		if _, err := bus.PublishAsync(b.Context(), e.js, events.NewJobStateChange(id, time.Now(), j)); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("delivered %d of %d", len(lat), n)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "notifications/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
}

// BenchmarkEventToNATSTargetOneByOne publishes the next event only once
// the previous one was delivered: the latency of one notification through
// an idle notifier.
func BenchmarkEventToNATSTargetOneByOne(b *testing.B) {
	e := start(b, DefaultConfig())
	e.putRule("bench", `{"detail":{"status":["FAILED"]}}`, batch.NotificationTarget{ID: "n", Type: batch.TargetNATS, Endpoint: "bench.one"})
	sub, err := e.nc.SubscribeSync("bench.one")
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		j := job("o"+itoa(i), "q", batch.StatusFailed)
		id := j.JobID + "/0/FAILED"
		t0 := time.Now()
		if _, err := bus.Publish(b.Context(), e.js, events.NewJobStateChange(id, time.Now(), j)); err != nil {
			b.Fatal(err)
		}
		if _, err := sub.NextMsg(10 * time.Second); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
}
