package plan

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

func TestMilli(t *testing.T) {
	tests := []struct {
		v    float64
		want Milli
	}{{0, 0}, {0.25, 250}, {0.1, 100}, {1, 1000}, {2.5, 2500}, {0.0004, 0}, {0.0005, 1}, {16, 16000}}
	for _, tc := range tests {
		if got := ToMilli(tc.v); got != tc.want {
			t.Errorf("ToMilli(%g) = %d, want %d", tc.v, got, tc.want)
		}
	}
	if got := Milli(250).Float(); got != 0.25 {
		t.Errorf("Float = %g", got)
	}
	var sum Milli
	for range 10 {
		sum += ToMilli(0.1)
	}
	if sum != ToMilli(1) {
		t.Errorf("10 x 0.1 vCPU = %d milli, want 1000", sum)
	}
}

// TestPlaceCapacity covers the capacity limits of one queue on one pass.
func TestPlaceCapacity(t *testing.T) {
	type job struct {
		vcpu float64
		mem  int64
	}
	repeat := func(n int, j job) []job { return slices.Repeat([]job{j}, n) }
	tests := []struct {
		name   string
		envMax float64
		hosts  []events.Host
		jobs   []job
		want   []string // placed, by id (j01, j02, ...)
	}{
		{
			name:   "4-vCPU env, 2-vCPU jobs: 2 of 10",
			envMax: 4, hosts: []events.Host{{ID: "h1", VCPUs: 64, MemoryMiB: 1 << 20}},
			jobs: repeat(10, job{2, 512}), want: jobIDs("j", 2),
		},
		{
			name:   "no cap (MaxVCPU 0): the hosts decide",
			envMax: 0, hosts: []events.Host{{ID: "h1", VCPUs: 6, MemoryMiB: 1 << 20}},
			jobs: repeat(10, job{2, 512}), want: jobIDs("j", 3),
		},
		{
			name:   "host of 2 vCPUs under an env of 8",
			envMax: 8, hosts: []events.Host{{ID: "h1", VCPUs: 2, MemoryMiB: 1 << 20}},
			jobs: repeat(5, job{1, 512}), want: jobIDs("j", 2),
		},
		{
			name:   "two small hosts under an env of 8",
			envMax: 8, hosts: []events.Host{{ID: "h1", VCPUs: 2, MemoryMiB: 1 << 20}, {ID: "h2", VCPUs: 3, MemoryMiB: 1 << 20}},
			jobs: repeat(8, job{1, 512}), want: jobIDs("j", 5),
		},
		{
			name:   "host memory",
			envMax: 0, hosts: []events.Host{{ID: "h1", VCPUs: 16, MemoryMiB: 4096}},
			jobs: repeat(5, job{1, 1500}), want: jobIDs("j", 2),
		},
		{
			name:   "memory exactly full",
			envMax: 0, hosts: []events.Host{{ID: "h1", VCPUs: 16, MemoryMiB: 4096}},
			jobs: repeat(5, job{1, 1024}), want: jobIDs("j", 4),
		},
		{
			name:   "fractional: 0.25 x 4 fit in 1 vCPU",
			envMax: 1, hosts: []events.Host{{ID: "h1", VCPUs: 1, MemoryMiB: 1 << 20}},
			jobs: repeat(6, job{0.25, 128}), want: jobIDs("j", 4),
		},
		{
			name:   "fractional: 0.1 x 10 fit in 1 vCPU",
			envMax: 1, hosts: []events.Host{{ID: "h1", VCPUs: 1, MemoryMiB: 1 << 20}},
			jobs: repeat(12, job{0.1, 1}), want: jobIDs("j", 10),
		},
		{
			name:   "fractional host: 0.5 x 3 on a 1.5-vCPU host",
			envMax: 0, hosts: []events.Host{{ID: "h1", VCPUs: 1.5, MemoryMiB: 1 << 20}},
			jobs: repeat(4, job{0.5, 1}), want: jobIDs("j", 3),
		},
		{
			name:   "a small job behind a big one that does not fit still runs",
			envMax: 4, hosts: []events.Host{{ID: "h1", VCPUs: 64, MemoryMiB: 1 << 20}},
			jobs: []job{{3, 1}, {2, 1}, {1, 1}, {1, 1}}, want: []string{"j01", "j03"},
		},
		{
			name:   "no hosts: nothing placed",
			envMax: 4, hosts: nil, jobs: repeat(3, job{1, 1}), want: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t).env("ce", tc.envMax).queue("q", 1, "ce")
			for _, h := range tc.hosts {
				w.host(h.ID, h.VCPUs, h.MemoryMiB)
			}
			for i, j := range tc.jobs {
				w.runnable(fmt.Sprintf("j%02d", i+1), "q", uint64(i+1), j.vcpu, j.mem)
			}
			places, waits := w.place()
			got := ids(places)
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("placed %v, want %v", got, tc.want)
			}
			// Every job left waits for capacity (or a host), and says so.
			wantWaits := WaitCapacity
			if len(tc.hosts) == 0 {
				wantWaits = WaitHost
			}
			got2 := waitsOf(waits)
			for i := range tc.jobs {
				id := fmt.Sprintf("j%02d", i+1)
				if r, ok := got2[id]; slices.Contains(tc.want, id) == ok || (ok && !strings.HasPrefix(r, wantWaits)) {
					t.Errorf("%s: wait reason %q (placed %v), want %q... for the jobs not placed", id, r, slices.Contains(tc.want, id), wantWaits)
				}
			}
			for _, p := range places {
				if p.Attempt != 1 || p.Env != "ce" || p.Job.Placed != 1 {
					t.Errorf("placement %+v", p)
				}
			}
			// The same state places nothing more, and says nothing again.
			if again, waits := w.place(); len(again) != 0 || len(waits) != 0 {
				t.Errorf("second pass placed %v, waits %v", ids(again), waitsOf(waits))
			}
		})
	}
}

func TestPlaceRaiseMaxVCPU(t *testing.T) {
	w := newWorld(t).env("ce", 4).host("h1", 64, 1<<20).queue("q", 1, "ce")
	for i, id := range jobIDs("j", 10) {
		w.runnable(id, "q", uint64(i+1), 2, 1)
	}
	if got := w.startAll(); !slices.Equal(got, jobIDs("j", 2)) {
		t.Fatalf("placed %v", got)
	}
	w.s.Envs["ce"].MaxVCPU = ToMilli(10)
	w.s.Touch()
	if got := w.startAll(); !slices.Equal(got, []string{"j03", "j04", "j05"}) {
		t.Fatalf("after raising to 10: placed %v", got)
	}
	// Lowering the cap stops nothing and places nothing.
	w.s.Envs["ce"].MaxVCPU = ToMilli(2)
	w.s.Touch()
	if got := w.startAll(); len(got) != 0 {
		t.Fatalf("after lowering to 2: placed %v", got)
	}
	for _, id := range jobIDs("j", 5) {
		w.finish(id, batch.StatusSucceeded)
	}
	if got := w.startAll(); !slices.Equal(got, []string{"j06"}) {
		t.Fatalf("after finishing all: placed %v", got)
	}
}

func TestPlaceHostsSpread(t *testing.T) {
	// Hosts with the most free vCPUs first.
	w := newWorld(t).env("ce", 0).host("h1", 4, 1<<20).host("h2", 8, 1<<20).queue("q", 1, "ce")
	w.runnable("a", "q", 1, 2, 1)
	w.runnable("b", "q", 2, 2, 1)
	w.runnable("c", "q", 3, 2, 1)
	w.runnable("d", "q", 4, 2, 1)
	places, _ := w.place()
	got := map[string]string{}
	for _, p := range places {
		got[p.Job.ID] = p.Host
	}
	want := map[string]string{"a": "h2", "b": "h2", "c": "h1", "d": "h2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("hosts %v, want %v", got, want)
	}
}

func TestPlaceHostServesEnv(t *testing.T) {
	w := newWorld(t).env("a", 0).env("b", 0).host("ha", 2, 1<<20, "a").host("hb", 64, 1<<20, "b").queue("q", 1, "a")
	for i, id := range jobIDs("j", 3) {
		w.runnable(id, "q", uint64(i+1), 1, 1)
	}
	places, _ := w.place()
	if len(places) != 2 {
		t.Fatalf("placed %v, want 2 on ha", ids(places))
	}
	for _, p := range places {
		if p.Host != "ha" {
			t.Errorf("%s on %s, want ha", p.Job.ID, p.Host)
		}
	}
}

func TestPlaceQueuePriority(t *testing.T) {
	w := newWorld(t).env("ce", 4).host("h1", 64, 1<<20).queue("lo", 1, "ce").queue("hi", 10, "ce").queue("mid", 5, "ce")
	// The low-priority jobs were submitted first.
	w.runnable("lo1", "lo", 1, 2, 1)
	w.runnable("lo2", "lo", 2, 2, 1)
	w.runnable("mid1", "mid", 3, 2, 1)
	w.runnable("hi1", "hi", 4, 2, 1)
	if got := w.startAll(); !slices.Equal(got, []string{"hi1", "mid1"}) {
		t.Fatalf("placed %v, want hi1 mid1", got)
	}
	w.finish("hi1", batch.StatusSucceeded)
	w.runnable("hi2", "hi", 5, 2, 1)
	if got := w.startAll(); !slices.Equal(got, []string{"hi2"}) {
		t.Fatalf("placed %v, want hi2", got)
	}
	w.finish("hi2", batch.StatusFailed)
	w.finish("mid1", batch.StatusSucceeded)
	if got := w.startAll(); !slices.Equal(got, []string{"lo1", "lo2"}) {
		t.Fatalf("placed %v, want lo1 lo2", got)
	}
}

func TestPlaceQueuePriorityOnlyOnSharedEnv(t *testing.T) {
	// A lower-priority queue on its own environment is not held back.
	w := newWorld(t).env("a", 2).env("b", 2).host("h1", 64, 1<<20).queue("hi", 10, "a").queue("lo", 1, "b")
	w.runnable("hi1", "hi", 1, 2, 1)
	w.runnable("hi2", "hi", 2, 2, 1)
	w.runnable("lo1", "lo", 3, 2, 1)
	if got := w.startAll(); !slices.Equal(got, []string{"hi1", "lo1"}) {
		t.Fatalf("placed %v, want hi1 lo1", got)
	}
}

func TestPlaceEnvOrder(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(w *world)
		want    map[string]string // job -> env
		waiting []string
	}{
		{
			name: "first env full falls through to the second",
			setup: func(w *world) {
				w.env("a", 2).env("b", 4).host("ha", 64, 1<<20, "a").host("hb", 64, 1<<20, "b").queue("q", 1, "a", "b")
			},
			want: map[string]string{"j01": "a", "j02": "b", "j03": "b"}, waiting: []string{"j04"},
		},
		{
			name: "first env's hosts full falls through",
			setup: func(w *world) {
				w.env("a", 100).env("b", 100).host("ha", 2, 1<<20, "a").host("hb", 4, 1<<20, "b").queue("q", 1, "a", "b")
			},
			want: map[string]string{"j01": "a", "j02": "b", "j03": "b"}, waiting: []string{"j04"},
		},
		{
			name: "order is the queue's, not the names'",
			setup: func(w *world) {
				w.env("a", 4).env("b", 2).host("h", 64, 1<<20).queue("q", 1, "b", "a")
			},
			want: map[string]string{"j01": "b", "j02": "a", "j03": "a"}, waiting: []string{"j04"},
		},
		{
			name: "disabled env skipped",
			setup: func(w *world) {
				w.env("a", 100).env("b", 4).host("h", 64, 1<<20).queue("q", 1, "a", "b")
				w.s.Envs["a"].Enabled = false
			},
			want: map[string]string{"j01": "b", "j02": "b"}, waiting: []string{"j03", "j04"},
		},
		{
			name: "unknown env skipped",
			setup: func(w *world) {
				w.env("b", 2).host("h", 64, 1<<20).queue("q", 1, "gone", "b")
			},
			want: map[string]string{"j01": "b"}, waiting: []string{"j02", "j03", "j04"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			tc.setup(w)
			for i, id := range jobIDs("j", 4) {
				w.runnable(id, "q", uint64(i+1), 2, 1)
			}
			places, waits := w.place()
			got := map[string]string{}
			for _, p := range places {
				got[p.Job.ID] = p.Env
				if h := w.s.Hosts[p.Host]; !h.Serves(p.Env) {
					t.Errorf("%s placed on %s, which does not serve %s", p.Job.ID, p.Host, p.Env)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("envs %v, want %v", got, tc.want)
			}
			for _, id := range tc.waiting {
				if _, ok := got[id]; ok {
					t.Errorf("%s placed, want waiting", id)
				}
			}
			for _, id := range tc.waiting {
				if r := waitsOf(waits)[id]; !strings.HasPrefix(r, WaitCapacity+": no room for 2 vCPUs") {
					t.Errorf("%s waits with %q, want %s...", id, r, WaitCapacity)
				}
			}
			if len(waits) != len(tc.waiting) {
				t.Errorf("waits %v, want one for each of %v", waitsOf(waits), tc.waiting)
			}
		})
	}
}

func TestPlaceSubmitOrder(t *testing.T) {
	w := newWorld(t).env("ce", 4).host("h1", 64, 1<<20).queue("q", 1, "ce")
	for _, seq := range []uint64{5, 3, 1, 4, 2, 6} {
		w.runnable(fmt.Sprintf("s%d", seq), "q", seq, 2, 1)
	}
	if got := w.startAll(); !slices.Equal(got, []string{"s1", "s2"}) {
		t.Fatalf("placed %v, want s1 s2", got)
	}
	// Jobs gated out of order join in Seq order too.
	w.submit("s0", "q", 0, 2, 1)
	w.gates()
	w.finish("s1", batch.StatusSucceeded)
	w.finish("s2", batch.StatusSucceeded)
	if got := w.startAll(); !slices.Equal(got, []string{"s0", "s3"}) {
		t.Fatalf("placed %v, want s0 s3", got)
	}
	w.finish("s0", batch.StatusSucceeded)
	w.finish("s3", batch.StatusSucceeded)
	if got := w.startAll(); !slices.Equal(got, []string{"s4", "s5"}) {
		t.Fatalf("placed %v, want s4 s5", got)
	}
}

func TestPlaceSubmitOrderAcrossGates(t *testing.T) {
	// Gates come out of a map; the jobs they make RUNNABLE still run in
	// submit order.
	w := newWorld(t).env("ce", 1).host("h1", 64, 1<<20).queue("q", 1, "ce")
	for seq := uint64(20); seq >= 1; seq-- {
		w.submit(fmt.Sprintf("s%02d", seq), "q", seq, 1, 1)
	}
	gs := w.s.Gates()
	if len(gs) != 20 {
		t.Fatalf("%d gates, want 20", len(gs))
	}
	for i, g := range gs {
		if g.Job.Seq != uint64(i+1) || g.Status != batch.StatusRunnable {
			t.Fatalf("gate %d = %s %s, want seq %d RUNNABLE", i, g.Job.ID, g.Status, i+1)
		}
		w.set(g.Job.ID, g.Status) // the monitor applies the gate
	}
	for i := 1; i <= 20; i++ {
		got := w.startAll()
		if want := fmt.Sprintf("s%02d", i); !slices.Equal(got, []string{want}) {
			t.Fatalf("pass %d placed %v, want %s", i, got, want)
		}
		w.finish(got[0], batch.StatusSucceeded)
	}
}

func TestWaitReasons(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(w *world)
		vcpu   float64
		mem    int64
		prefix string // "" for no reason
	}{
		{
			name:  "env max too small",
			setup: func(w *world) { w.env("a", 4).env("b", 2).host("h", 64, 1<<20).queue("q", 1, "a", "b") },
			vcpu:  8, mem: 1, prefix: ReasonEnvMaxResource,
		},
		{
			name: "env max of a disabled env does not count",
			setup: func(w *world) {
				w.env("a", 4).env("b", 16).host("h", 64, 1<<20).queue("q", 1, "a", "b")
				w.s.Envs["b"].Enabled = false
			},
			vcpu: 8, mem: 1, prefix: ReasonEnvMaxResource,
		},
		{
			name:  "no host has the vCPUs",
			setup: func(w *world) { w.env("a", 16).host("h1", 4, 1<<20).host("h2", 2, 1<<20).queue("q", 1, "a") },
			vcpu:  8, mem: 1, prefix: ReasonJobRequirement,
		},
		{
			name:  "no host has the memory",
			setup: func(w *world) { w.env("a", 16).host("h1", 64, 1024).queue("q", 1, "a") },
			vcpu:  1, mem: 2048, prefix: ReasonJobRequirement,
		},
		{
			name: "the big host serves another env",
			setup: func(w *world) {
				w.env("a", 0).env("b", 0).host("h1", 2, 1<<20, "a").host("h2", 64, 1<<20, "b").queue("q", 1, "a")
			},
			vcpu: 8, mem: 1, prefix: ReasonJobRequirement,
		},
		{
			name:  "no enabled env",
			setup: func(w *world) { w.env("a", 16).host("h1", 64, 1<<20).queue("q", 1, "a"); w.s.Envs["a"].Enabled = false },
			vcpu:  1, mem: 1, prefix: ReasonInvalidEnvs,
		},
		{
			name:  "no env at all",
			setup: func(w *world) { w.host("h1", 64, 1<<20).queue("q", 1, "missing") },
			vcpu:  1, mem: 1, prefix: ReasonInvalidEnvs,
		},
		{
			name:  "no hosts yet is no misconfiguration",
			setup: func(w *world) { w.env("a", 16).queue("q", 1, "a") },
			vcpu:  8, mem: 1, prefix: WaitHost,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			tc.setup(w)
			w.runnable("big", "q", 1, tc.vcpu, tc.mem)
			places, waits := w.place()
			if len(places) != 0 {
				t.Fatalf("placed %v", ids(places))
			}
			if len(waits) != 1 || waits[0].Job.ID != "big" || !strings.HasPrefix(waits[0].Reason, tc.prefix) {
				t.Fatalf("waits %v, want big: %s - ...", waitsOf(waits), tc.prefix)
			}
			if waits[0].Job.Reason != waits[0].Reason {
				t.Errorf("job reason %q not recorded", waits[0].Job.Reason)
			}
			// Said once.
			if _, again := w.place(); len(again) != 0 {
				t.Errorf("second pass waits %v, want none", waitsOf(again))
			}
			// A record update (the monitor storing the reason) does not
			// make the planner say it again.
			w.set("big", batch.StatusRunnable)
			if _, again := w.place(); len(again) != 0 {
				t.Errorf("after upsert waits %v, want none", waitsOf(again))
			}
		})
	}
}

func TestWaitReasonClearedWhenFixed(t *testing.T) {
	w := newWorld(t).env("ce", 2).host("h1", 64, 1<<20).queue("q", 1, "ce")
	w.runnable("other", "q", 1, 2, 1)
	w.runnable("big", "q", 2, 4, 1)
	places, waits := w.place()
	if !slices.Equal(ids(places), []string{"other"}) || !strings.HasPrefix(waitsOf(waits)["big"], ReasonEnvMaxResource) {
		t.Fatalf("placed %v waits %v", ids(places), waitsOf(waits))
	}
	w.start(places[0])
	// The cap is raised, but "other" holds the room: big now waits for
	// capacity.
	w.s.Envs["ce"].MaxVCPU = ToMilli(4)
	w.s.Touch()
	places, waits = w.place()
	if len(places) != 0 || len(waits) != 1 || !strings.HasPrefix(waits[0].Reason, WaitCapacity+": no room for 4 vCPUs") {
		t.Fatalf("placed %v waits %v, want big waiting for capacity", ids(places), waitsOf(waits))
	}
	w.finish("other", batch.StatusSucceeded)
	places, waits = w.place()
	if !slices.Equal(ids(places), []string{"big"}) || len(waits) != 0 {
		t.Fatalf("placed %v waits %v", ids(places), waitsOf(waits))
	}
}
