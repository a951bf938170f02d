package plan

import (
	"testing"

	"github.com/batchd/batchd/pkg/batch"
)

// Capacity counts what placed and running jobs hold per environment, and
// what the hosts serving it have left, capped by maxvCpus.
func TestCapacity(t *testing.T) {
	w := newWorld(t).env("a", 6).env("b", 0).
		host("h1", 4, 1000, "a").host("h2", 8, 4000). // h2 serves every environment
		queue("qa", 1, "a").queue("qb", 1, "b")
	w.runnable("a1", "qa", 1, 2, 300)
	w.runnable("a2", "qa", 2, 1.5, 200)
	w.runnable("b1", "qb", 3, 3, 1000)
	w.runnable("b2", "qb", 4, 0.25, 100)

	// Nothing placed: all free, within maxvCpus.
	c := w.s.Capacity()
	if got := c["a"]; got != (EnvCapacity{VCPUsFree: ToMilli(6), MemoryMiBFree: 5000}) {
		t.Fatalf("a before placing: %+v", got)
	}
	if got := c["b"]; got != (EnvCapacity{VCPUsFree: ToMilli(8), MemoryMiBFree: 4000}) {
		t.Fatalf("b before placing: %+v", got)
	}

	places, _ := w.place() // placed, not confirmed yet: counted
	if len(places) != 4 {
		t.Fatalf("want 4 placements, got %d", len(places))
	}
	where := map[string]string{}
	for _, p := range places {
		where[p.Job.ID] = p.Host
	}
	c = w.s.Capacity()
	a, b := c["a"], c["b"]
	if a.VCPUsInUse != ToMilli(3.5) || a.MemoryMiBInUse != 500 {
		t.Fatalf("a in use: %+v (placed on %v)", a, where)
	}
	if b.VCPUsInUse != ToMilli(3.25) || b.MemoryMiBInUse != 1100 {
		t.Fatalf("b in use: %+v", b)
	}
	// Hosts: 12 vCPUs, 5000 MiB in all; 6.75 vCPUs and 1600 MiB held.
	hostFreeCPU := ToMilli(12) - ToMilli(6.75)
	if b.VCPUsFree != ToMilli(8)-usedOn(w, where, "h2") || b.MemoryMiBFree != 4000-memOn(w, where, "h2") {
		t.Fatalf("b free: %+v (placed on %v)", b, where)
	}
	if want := min(ToMilli(6)-ToMilli(3.5), hostFreeCPU); a.VCPUsFree != want || a.MemoryMiBFree != 5000-1600 {
		t.Fatalf("a free: %+v, want %d vCPU milli and %d MiB", a, want, 5000-1600)
	}

	// Finished jobs give their capacity back; a disabled environment has
	// nothing free.
	for _, p := range places {
		w.start(p)
	}
	w.finish("a1", batch.StatusSucceeded)
	w.s.Envs["b"].Enabled = false
	c = w.s.Capacity()
	if c["a"].VCPUsInUse != ToMilli(1.5) || c["a"].MemoryMiBInUse != 200 {
		t.Fatalf("a after a1 finished: %+v", c["a"])
	}
	if c["b"].VCPUsFree != 0 || c["b"].MemoryMiBFree != 0 || c["b"].VCPUsInUse != ToMilli(3.25) {
		t.Fatalf("disabled b: %+v", c["b"])
	}
}

func usedOn(w *world, where map[string]string, host string) Milli {
	var m Milli
	for id, h := range where {
		if h == host {
			m += w.s.Jobs[id].VCPU
		}
	}
	return m
}

func memOn(w *world, where map[string]string, host string) int64 {
	var m int64
	for id, h := range where {
		if h == host {
			m += w.s.Jobs[id].MemoryMiB
		}
	}
	return m
}
