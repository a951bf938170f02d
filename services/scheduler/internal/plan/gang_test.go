package plan

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
	"pgregory.net/rapid"
)

// gangJob is a RUNNABLE multi-node job of n nodes of vcpu vCPUs each.
func gangJob(id, queue string, seq uint64, n int, vcpu float64, mem int64) Job {
	j := Job{ID: id, Queue: queue, Seq: seq, Status: batch.StatusRunnable}
	nodes := make([]NodeNeed, n)
	for i := range nodes {
		nodes[i] = NodeNeed{VCPU: ToMilli(vcpu), MemoryMiB: mem}
	}
	j.SetNodes(nodes)
	return j
}

// startGang applies a gang placement as the monitor does: node records
// STARTING on their hosts, then the parent STARTING.
func (w *world) startGang(p Placement) {
	w.tb.Helper()
	parent := w.recs[p.Job.ID]
	for _, spot := range p.Nodes {
		if old, ok := w.recs[batch.NodeID(p.Job.ID, spot.Index)]; ok && !old.Status.Final() {
			w.tb.Fatalf("node %d of %s placed while it runs attempt %d", spot.Index, p.Job.ID, old.Attempts+1)
		}
		n := parent.Nodes[spot.Index]
		w.upsert(Job{ID: batch.NodeID(p.Job.ID, spot.Index), Queue: parent.Queue, Node: true, Status: batch.StatusStarting,
			Attempts: parent.Attempts, Host: spot.Host, Env: p.Env, VCPU: n.VCPU, MemoryMiB: n.MemoryMiB})
	}
	w.start(p)
}

func TestGangPlacesAllNodesOrNone(t *testing.T) {
	w := newWorld(t).env("ce", 0).host("h1", 4, 4096).host("h2", 4, 4096).queue("q", 1, "ce")
	w.upsert(gangJob("g", "q", 1, 3, 2, 512))
	places, _ := w.place()
	if len(places) != 1 || len(places[0].Nodes) != 3 || places[0].Host != "" {
		t.Fatalf("placements %+v", places)
	}
	hosts := map[string]int{}
	for _, n := range places[0].Nodes {
		hosts[n.Host]++
	}
	if hosts["h1"] == 0 || hosts["h2"] == 0 {
		t.Fatalf("nodes not spread over both hosts: %v", hosts)
	}
	w.startGang(places[0])

	// 2 vCPUs left (one host has one node, the other two): a 2-node gang
	// of 2 vCPUs waits and holds nothing; a 2-vCPU job behind it runs.
	w.upsert(gangJob("g2", "q", 2, 2, 2, 512))
	w.runnable("small", "q", 3, 2, 512)
	places, waits := w.place()
	if got := ids(places); !slices.Equal(got, []string{"small"}) {
		t.Fatalf("placed %v, want the small job only", got)
	}
	if r := waitsOf(waits)["g2"]; !strings.HasPrefix(r, WaitCapacity+": no room for its 2 nodes (nodes 0 to 1: 2 vCPUs and 512 MiB of memory each)") {
		t.Fatalf("gang reason %q", r)
	}
	for i := 0; i < 2; i++ {
		if n := w.s.Jobs[batch.NodeID("g2", i)]; n != nil && n.occupies() {
			t.Fatalf("a waiting gang holds node %d", i)
		}
	}
}

func TestGangNeverFits(t *testing.T) {
	w := newWorld(t).env("ce", 64).host("h1", 4, 4096).host("h2", 4, 4096).queue("q", 1, "ce")
	w.upsert(gangJob("wide", "q", 1, 3, 3, 512)) // 3 nodes of 3 vCPUs on two hosts of 4
	w.upsert(gangJob("many", "q", 2, 20, 4, 512))
	places, waits := w.place()
	if len(places) != 0 {
		t.Fatalf("placed %v", ids(places))
	}
	r := waitsOf(waits)
	if !strings.HasPrefix(r["wide"], ReasonJobRequirement+" - the hosts of the compute environments of job queue q cannot hold the 3 nodes of the job (nodes 0 to 2: 3 vCPUs and 512 MiB of memory each) even when idle.") {
		t.Fatalf("wide: %q", r["wide"])
	}
	if !strings.HasPrefix(r["many"], ReasonEnvMaxResource+" - the 20 nodes of the job need 80 vCPUs together") {
		t.Fatalf("many: %q", r["many"])
	}
}

// Nodes share a host when they must.
func TestGangSharesAHost(t *testing.T) {
	w := newWorld(t).env("ce", 0).host("h1", 8, 4096).queue("q", 1, "ce")
	w.upsert(gangJob("g", "q", 1, 4, 2, 512))
	places, _ := w.place()
	if len(places) != 1 || len(places[0].Nodes) != 4 {
		t.Fatalf("placements %+v", places)
	}
}

// The next attempt waits until every node of the last one has stopped.
func TestGangRetryWaitsForItsNodes(t *testing.T) {
	w := newWorld(t).env("ce", 0).host("h1", 8, 4096).queue("q", 1, "ce")
	w.upsert(gangJob("g", "q", 1, 2, 2, 512))
	places, _ := w.place()
	w.startGang(places[0])
	w.retry("g") // the main node failed; node 1 is still being stopped
	w.finish(batch.NodeID("g", 0), batch.StatusFailed)
	places, waits := w.place()
	if len(places) != 0 || !strings.Contains(waitsOf(waits)["g"], "are still stopping") {
		t.Fatalf("placed %v, waits %v", ids(places), waitsOf(waits))
	}
	w.finish(batch.NodeID("g", 1), batch.StatusFailed)
	places, _ = w.place()
	if len(places) != 1 || places[0].Attempt != 2 || len(places[0].Nodes) != 2 {
		t.Fatalf("second attempt: %+v", places)
	}
}

// A gang placement taken back (not published) frees its nodes' hosts.
func TestGangUnplace(t *testing.T) {
	w := newWorld(t).env("ce", 0).host("h1", 4, 4096).queue("q", 1, "ce")
	w.upsert(gangJob("g", "q", 1, 2, 2, 512))
	places, _ := w.place()
	w.s.Unplace(places[0].Job)
	places, _ = w.place()
	if len(places) != 1 {
		t.Fatalf("after Unplace: %v", ids(places))
	}
}

// TestGangProperties runs random gangs and single jobs on random hosts
// through the planner and a model monitor (records follow each decision
// in a random order of steps) and checks after every pass: a gang is
// placed whole or not at all, no host holds more than it has, a node runs
// one attempt at a time, and in the end every job that fits runs: no two
// gangs deadlock.
func TestGangProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		w := newWorld(rt).env("ce", 0).queue("q", 1, "ce")
		nHosts := rapid.IntRange(1, 4).Draw(rt, "hosts")
		var total Milli
		maxHost := 0.0
		for i := 0; i < nHosts; i++ {
			v := float64(rapid.IntRange(1, 8).Draw(rt, "vcpus"))
			w.host(fmt.Sprintf("h%d", i), v, 1<<20)
			total += ToMilli(v)
			maxHost = max(maxHost, v)
		}
		nJobs := rapid.IntRange(1, 8).Draw(rt, "jobs")
		feasible := map[string]bool{}
		for i := 0; i < nJobs; i++ {
			id := fmt.Sprintf("j%d", i)
			v := float64(rapid.IntRange(1, 4).Draw(rt, "jobVCPUs"))
			if rapid.Bool().Draw(rt, "gang") {
				n := rapid.IntRange(1, 5).Draw(rt, "nodes")
				w.upsert(gangJob(id, "q", uint64(i+1), n, v, 1))
				// Feasible on idle hosts: what packNodes can do.
				g := gangJob(id, "q", 0, n, v, 1)
				_, ok := packNodes(hostList(w), "ce", g.Nodes, func(string) hostUse { return hostUse{} })
				feasible[id] = ok
			} else {
				w.runnable(id, "q", uint64(i+1), v, 1)
				feasible[id] = v <= maxHost
			}
		}
		done := map[string]bool{}
		running := map[string]Placement{}
		for step := 0; step < 200 && len(done) < len(feasible); step++ {
			places, _ := w.place()
			for _, p := range places {
				if p.Job.gang() {
					if len(p.Nodes) != len(p.Job.Nodes) {
						rt.Fatalf("partial gang %s: %d of %d nodes", p.Job.ID, len(p.Nodes), len(p.Job.Nodes))
					}
					w.startGang(p)
				} else {
					w.start(p)
				}
				running[p.Job.ID] = p
			}
			checkHosts(rt, w)
			// End one running job (a gang ends with all its nodes).
			var ids []string
			for id := range running {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			if len(ids) == 0 {
				if len(places) == 0 {
					break
				}
				continue
			}
			id := ids[rapid.IntRange(0, len(ids)-1).Draw(rt, "end")]
			p := running[id]
			delete(running, id)
			for _, n := range p.Nodes {
				w.finish(batch.NodeID(id, n.Index), batch.StatusSucceeded)
			}
			w.finish(id, batch.StatusSucceeded)
			done[id] = true
		}
		for id, ok := range feasible {
			if ok && !done[id] {
				rt.Fatalf("job %s fits the idle hosts but never ran (done %v)", id, done)
			}
			if !ok && done[id] {
				rt.Fatalf("job %s does not fit but ran", id)
			}
		}
	})
}

func hostList(w *world) []*events.Host {
	var hs []*events.Host
	for _, h := range w.s.Hosts {
		hs = append(hs, h)
	}
	slices.SortFunc(hs, func(a, b *events.Host) int { return strings.Compare(a.ID, b.ID) })
	return hs
}

// checkHosts: what the records and the planner's placements hold of each
// host never exceeds it.
func checkHosts(rt *rapid.T, w *world) {
	use := map[string]Milli{}
	for _, j := range w.s.Jobs {
		if j.occupies() && !j.gang() {
			use[j.Host] += j.VCPU
		}
	}
	for id, u := range use {
		if h := w.s.Hosts[id]; h == nil || u > ToMilli(h.VCPUs) {
			rt.Fatalf("host %s holds %g vCPUs", id, u.Float())
		}
	}
}
