package plan

import (
	"fmt"
	"testing"

	"github.com/batchd/batchd/pkg/batch"
)

// Benchmarks with 10,000 RUNNABLE jobs waiting behind full capacity:
//
//   - OneSlot: a running job ends, the pass places the next one and the
//     record comes back STARTING; one iteration is one placement, so
//     placements/s is what the planner sustains when capacity frees one
//     slot at a time;
//   - NothingPlaceable: a pass after a change of a queue, environment,
//     host, policy or resource that frees nothing: every reason is
//     worked out again, the worst case;
//   - NewJobWhileFull: a pass after a job arrives to a full queue: the
//     waiting jobs whose reasons cannot have changed are skipped.
//
// Each runs on a FIFO queue and on a fair-share queue with 100 share
// identifiers.

const benchWaiting = 10_000

type benchWorld struct {
	*world
	running []string
	next    int
}

func newBenchWorld(b *testing.B, fair bool, slots int) *benchWorld {
	w := newWorld(b).env("ce", float64(slots)).host("h1", float64(slots), 1<<30).queue("q", 1, "ce")
	if fair {
		w.s.Queues["q"].Policy = "p"
		w.policy(&Policy{Name: "p", Shares: []ShareRule{{ID: "s1*", Weight: 0.5}}})
	}
	bw := &benchWorld{world: w}
	for range slots + benchWaiting {
		bw.add()
	}
	for _, p := range bw.mustPlace(slots) {
		bw.start(p)
		bw.running = append(bw.running, p.Job.ID)
	}
	return bw
}

func (bw *benchWorld) add() {
	bw.next++
	id := fmt.Sprintf("j%06d", bw.next)
	bw.upsert(Job{ID: id, Queue: "q", Seq: uint64(bw.next), Status: batch.StatusRunnable, VCPU: 1000, MemoryMiB: 256,
		Share: fmt.Sprintf("s%02d", bw.next%100), Priority: bw.next % 7})
}

func (bw *benchWorld) mustPlace(n int) []Placement {
	places, _ := bw.place()
	if len(places) != n {
		bw.tb.Fatalf("placed %d, want %d", len(places), n)
	}
	return places
}

func benchOneSlot(b *testing.B, fair bool) {
	bw := newBenchWorld(b, fair, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A job ends and a new one arrives: 10,000 keep waiting.
		id := bw.running[0]
		bw.running = bw.running[1:]
		bw.finish(id, batch.StatusSucceeded)
		bw.add()
		p := bw.mustPlace(1)[0]
		bw.start(p)
		bw.running = append(bw.running, p.Job.ID)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "placements/s")
}

func benchNothingPlaceable(b *testing.B, fair bool) {
	bw := newBenchWorld(b, fair, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bw.s.Touch()
		bw.mustPlace(0)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "passes/s")
}

func benchNewJobWhileFull(b *testing.B, fair bool) {
	bw := newBenchWorld(b, fair, 100)
	bw.mustPlace(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bw.add()
		bw.mustPlace(0)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "passes/s")
}

func BenchmarkPassNewJobWhileFullFIFO(b *testing.B)      { benchNewJobWhileFull(b, false) }
func BenchmarkPassNewJobWhileFullFairShare(b *testing.B) { benchNewJobWhileFull(b, true) }

func BenchmarkPlaceOneSlotFIFO(b *testing.B)              { benchOneSlot(b, false) }
func BenchmarkPlaceOneSlotFairShare(b *testing.B)         { benchOneSlot(b, true) }
func BenchmarkPassNothingPlaceableFIFO(b *testing.B)      { benchNothingPlaceable(b, false) }
func BenchmarkPassNothingPlaceableFairShare(b *testing.B) { benchNothingPlaceable(b, true) }
