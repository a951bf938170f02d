package plan

import (
	"fmt"
	"syscall"
	"testing"
	"time"

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
//     waiting jobs whose reasons cannot have changed are skipped;
//   - LateJobsWhileFull: the same with 10 jobs a pass, two of them
//     submitted before jobs already waiting (records reach the scheduler
//     out of submit order when the monitor creates them concurrently).
//
// Each runs on a FIFO queue and on a fair-share queue with 100 share
// identifiers.

const benchWaiting = 10_000

// cpuTime is the CPU time this process used so far. The machine the
// figures come from is shared, so wall time per operation (ns/op) says
// more about the load than about the planner; cpu-ns/op does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs the timed loop and reports per-second and CPU figures.
func measure(b *testing.B, unit string, op func()) {
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		op()
	}
	cpu := cpuTime() - start
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

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
	measure(b, "placements/s", func() {
		// A job ends and a new one arrives: 10,000 keep waiting.
		id := bw.running[0]
		bw.running = bw.running[1:]
		bw.finish(id, batch.StatusSucceeded)
		bw.add()
		p := bw.mustPlace(1)[0]
		bw.start(p)
		bw.running = append(bw.running, p.Job.ID)
	})
}

func benchNothingPlaceable(b *testing.B, fair bool) {
	bw := newBenchWorld(b, fair, 100)
	measure(b, "passes/s", func() {
		bw.s.Touch()
		bw.mustPlace(0)
	})
}

func benchNewJobWhileFull(b *testing.B, fair bool) {
	bw := newBenchWorld(b, fair, 100)
	bw.mustPlace(0)
	measure(b, "passes/s", func() {
		bw.add()
		bw.mustPlace(0)
	})
}

func BenchmarkPassNewJobWhileFullFIFO(b *testing.B)      { benchNewJobWhileFull(b, false) }
func BenchmarkPassNewJobWhileFullFairShare(b *testing.B) { benchNewJobWhileFull(b, true) }

func BenchmarkPassLateJobsWhileFullFIFO(b *testing.B)     { benchLateJobsWhileFull(b) }
func BenchmarkPlaceOneSlotFIFO(b *testing.B)              { benchOneSlot(b, false) }
func BenchmarkPlaceOneSlotFairShare(b *testing.B)         { benchOneSlot(b, true) }
func BenchmarkPassNothingPlaceableFIFO(b *testing.B)      { benchNothingPlaceable(b, false) }
func BenchmarkPassNothingPlaceableFairShare(b *testing.B) { benchNothingPlaceable(b, true) }

func benchLateJobsWhileFull(b *testing.B) {
	bw := newBenchWorld(b, false, 100)
	bw.mustPlace(0)
	measure(b, "passes/s", func() {
		for i := range 10 {
			bw.add()
			if i%5 == 0 {
				j := bw.s.Jobs[fmt.Sprintf("j%06d", bw.next)]
				rec := *j
				rec.Seq -= 50 // submitted before jobs already waiting
				bw.s.Remove(j.ID)
				bw.upsert(rec)
			}
		}
		bw.mustPlace(0)
	})
}
