package plan

import (
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// The property test runs the planner inside a model of the whole system:
//
//   - the planner's decisions (gates, placements, wait reasons) and the
//     launcher's facts (started, exited) go into one ordered stream, as on
//     BATCH_JOBS;
//   - a model monitor applies the stream in order to the job records, with
//     the real monitor's rules, and every changed record is fed back with
//     Upsert, as the scheduler's KV watcher does;
//   - a model launcher starts and ends the attempts placed on its hosts,
//     with random outcomes (success, failure with or without retries left,
//     timeouts, start failures);
//   - environments' maxvCpus and state change underneath;
//   - queues may have a maxRunningJobs and a fair-share policy (share
//     identifiers with weights and maxRunningJobs), jobs may be children
//     of arrays with a maxRunningJobs, and may need consumable resources
//     (one REPLENISHABLE, one NON_REPLENISHABLE).
//
// "Live" attempts, the capacity in use as the planner was told about it,
// run from their placement until the monitor applies their exit.

func TestPlannerProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := newSim(t)
		envNames := make([]string, 0, len(m.s.Envs))
		for name := range m.s.Envs {
			envNames = append(envNames, name)
		}
		slices.Sort(envNames)
		recIDs := func() []string {
			ids := make([]string, 0, len(m.recs))
			for id := range m.recs {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			return ids
		}
		t.Repeat(map[string]func(*rapid.T){
			"submit": func(t *rapid.T) {
				if len(m.pending) == 0 {
					t.Skip("all submitted")
				}
				n := rapid.IntRange(1, min(4, len(m.pending))).Draw(t, "n")
				for range n {
					i := rapid.IntRange(0, len(m.pending)-1).Draw(t, "which")
					m.submit(m.pending[i])
					m.pending = slices.Delete(m.pending, i, i+1)
				}
			},
			"pass": func(t *rapid.T) { m.pass() },
			"monitor": func(t *rapid.T) {
				if len(m.stream) == 0 {
					t.Skip("nothing to apply")
				}
				n := rapid.IntRange(1, len(m.stream)).Draw(t, "n")
				for range n {
					m.apply()
				}
			},
			"launcher": func(t *rapid.T) {
				ks := m.liveKeys(1)
				if len(ks) == 0 {
					t.Skip("nothing to launch")
				}
				for _, k := range rapid.SliceOfNDistinct(rapid.SampledFrom(ks), 1, len(ks), func(k attemptKey) string {
					return fmt.Sprint(k)
				}).Draw(t, "attempts") {
					m.launch(k, rapid.IntRange(0, 7).Draw(t, "outcome"))
				}
			},
			"envChange": func(t *rapid.T) {
				e := m.s.Envs[rapid.SampledFrom(envNames).Draw(t, "env")]
				if rapid.IntRange(0, 3).Draw(t, "toggle") == 3 {
					e.Enabled = !e.Enabled
				} else {
					e.MaxVCPU = ToMilli(rapid.SampledFrom(envMaxes).Draw(t, "max"))
				}
				m.s.Touch()
			},
			"queueChange": func(t *rapid.T) {
				q := m.s.Queues[rapid.SampledFrom(queueNames(m)).Draw(t, "queue")]
				if rapid.Bool().Draw(t, "toggle") {
					q.Enabled = !q.Enabled
				} else {
					q.MaxRunning = rapid.IntRange(0, 3).Draw(t, "maxRunning")
				}
				m.s.Touch()
			},
			"cycle": func(t *rapid.T) {
				// A pass, then part of what it said applied and part of
				// the running attempts moved on.
				m.pass()
				for range rapid.IntRange(0, len(m.stream)).Draw(t, "apply") {
					m.apply()
				}
				for _, k := range m.liveKeys(1) {
					if rapid.Bool().Draw(t, "launch") {
						m.launch(k, rapid.IntRange(0, 7).Draw(t, "outcome"))
					}
				}
			},
			"staleRecord": func(t *rapid.T) {
				ids := recIDs()
				if len(ids) == 0 {
					t.Skip("no records")
				}
				m.upsert(m.recs[rapid.SampledFrom(ids).Draw(t, "job")])
			},
			"": func(t *rapid.T) { m.check() },
		})
		m.drain(rapid.Bool().Draw(t, "fixEnvs"))
	})
}
