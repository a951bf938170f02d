package plan

import (
	"strings"
	"testing"

	"github.com/batchd/batchd/pkg/batch"
)

// GPUs are a host's like vCPUs and memory: a job needing N goes only to a
// host with N free, and one needing more than every host has says so.
func TestGPUPlacement(t *testing.T) {
	w := newWorld(t).env("ce", 0).host("cpu", 64, 1<<20).host("gpu", 64, 1<<20).queue("q", 1, "ce")
	w.s.Hosts["gpu"].GPUs = 2
	for i, id := range []string{"g1", "g2", "g3"} {
		w.upsert(Job{ID: id, Queue: "q", Seq: uint64(i + 1), Status: batch.StatusRunnable, VCPU: 1000, MemoryMiB: 1, GPUs: 1})
	}
	w.upsert(Job{ID: "big", Queue: "q", Seq: 4, Status: batch.StatusRunnable, VCPU: 1000, MemoryMiB: 1, GPUs: 3})
	places, waits := w.place()
	if got := ids(places); len(got) != 2 || got[0] != "g1" || got[1] != "g2" {
		t.Fatalf("placed %v, want g1 and g2", got)
	}
	for _, p := range places {
		if p.Host != "gpu" {
			t.Fatalf("%s placed on %s, which has no GPU", p.Job.ID, p.Host)
		}
		w.start(p)
	}
	r := waitsOf(waits)
	if !strings.HasPrefix(r["g3"], WaitCapacity) || !strings.Contains(r["g3"], "1 GPUs") {
		t.Fatalf("g3 waits with %q, want %s naming its GPU", r["g3"], WaitCapacity)
	}
	if want := ReasonJobRequirement + " - no host of the compute environments of job queue q has 1 vCPUs, 1 MiB of memory and 3 GPUs."; r["big"] != want {
		t.Fatalf("big waits with %q, want %q", r["big"], want)
	}
	w.finish("g1", batch.StatusSucceeded)
	if got := w.startAll(); len(got) != 1 || got[0] != "g3" {
		t.Fatalf("after g1 ended placed %v, want g3", got)
	}
}
