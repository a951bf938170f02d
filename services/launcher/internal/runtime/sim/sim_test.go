package sim_test

import (
	"testing"
	"time"

	"github.com/batchd/batchd/services/launcher/internal/runtime"
	"github.com/batchd/batchd/services/launcher/internal/runtime/runtimetest"
	"github.com/batchd/batchd/services/launcher/internal/runtime/sim"
)

// TestConformance runs the whole conformance suite: the simulated shell
// runs the suite's commands.
func TestConformance(t *testing.T) {
	rt := sim.New(sim.Config{Images: []string{"busybox"}})
	runtimetest.Run(t, func(*testing.T) runtime.Runtime { return rt }, "busybox")
}

// TestCommands checks the simulated shell on what jobs typically run.
func TestCommands(t *testing.T) {
	rt := sim.New(sim.Config{})
	for _, tc := range []struct {
		cmd  []string
		code int
		out  []string
		min  time.Duration
	}{
		{cmd: nil, code: 0},
		{cmd: []string{"true"}, code: 0},
		{cmd: []string{"false"}, code: 1},
		{cmd: []string{"sleep", "0.2"}, code: 0, min: 200 * time.Millisecond},
		{cmd: []string{"sh", "-c", "echo a && exit 3; echo b"}, code: 3, out: []string{"a"}},
		{cmd: []string{"sh", "-c", "false || echo $? ; printf '%s-%s\\n' x y"}, code: 0, out: []string{"1", "x-y"}},
		{cmd: []string{"sh", "-c", "nosuch; echo after"}, code: 0, out: []string{"sh: nosuch: not found", "after"}},
		{cmd: []string{"sh", "-c", `X="1 2"; echo '$X' "\$X" $HOME`}, code: 0, out: []string{"$X $X /root"}},
		{cmd: []string{"sh", "-c", "seq 3 | head -n 2 | tr 12 ab"}, code: 0, out: []string{"a", "b"}},
		{cmd: []string{"/bin/sh", "-c", "sleep 0.1; exit 42"}, code: 42, min: 100 * time.Millisecond},
	} {
		c, err := rt.Start(t.Context(), runtime.Spec{Name: t.Name() + time.Now().String(), Image: "any", Command: tc.cmd})
		if err != nil {
			t.Fatalf("%q: Start: %v", tc.cmd, err)
		}
		out := make(chan runtime.LogLine, 64)
		if err := rt.Logs(t.Context(), c.ID, time.Time{}, out); err != nil {
			t.Fatalf("%q: Logs: %v", tc.cmd, err)
		}
		var got []string
		for l := range out {
			got = append(got, l.Text)
		}
		exit, err := rt.Wait(t.Context(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if exit.ExitCode != tc.code || len(got) != len(tc.out) || exit.FinishedAt.Sub(exit.StartedAt) < tc.min {
			t.Errorf("%q: exit %d after %v, output %q; want %d after %v, %q", tc.cmd, exit.ExitCode,
				exit.FinishedAt.Sub(exit.StartedAt), got, tc.code, tc.min, tc.out)
			continue
		}
		for i := range got {
			if got[i] != tc.out[i] {
				t.Errorf("%q: line %d %q, want %q", tc.cmd, i, got[i], tc.out[i])
			}
		}
		_ = rt.Remove(t.Context(), c.ID)
	}
	if n := rt.Len(); n != 0 {
		t.Errorf("%d containers left after Remove, want 0", n)
	}
}
