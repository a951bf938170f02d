package fake_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/batchd/batchd/services/launcher/internal/runtime"
	"github.com/batchd/batchd/services/launcher/internal/runtime/fake"
	"github.com/batchd/batchd/services/launcher/internal/runtime/runtimetest"
)

// newFake returns a fake with the images the conformance cases below need.
func newFake(*testing.T) runtime.Runtime {
	rt := fake.New()
	rt.SetImage("echo-once", fake.Script{Output: []runtime.LogLine{{Stream: "stdout", Text: "once"}}})
	rt.SetImage("sleeper", fake.Script{Duration: time.Hour})
	rt.SetImage("bad-command", fake.Script{StartError: `exec: "/no/such/program": not found`})
	rt.SetImage("exit-by-command", fake.Script{ExitCodes: map[string]int{"sh -c exit 5": 5}})
	return rt
}

// TestConformance runs the cases that do not depend on commands actually
// running (the fake ignores them).
func TestConformance(t *testing.T) {
	for name, run := range map[string]func(*testing.T){
		"SameName":       func(t *testing.T) { runtimetest.SameName(t, newFake, "echo-once") },
		"MissingImage":   func(t *testing.T) { runtimetest.MissingImage(t, newFake, "unused") },
		"BadCommand":     func(t *testing.T) { runtimetest.BadCommand(t, newFake, "bad-command") },
		"StopListRemove": func(t *testing.T) { runtimetest.StopListRemove(t, newFake, "sleeper") },
		"PodLifecycle":   func(t *testing.T) { runtimetest.PodLifecycle(t, newFake, "exit-by-command") },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			run(t)
		})
	}
}

// TestScript checks that a container behaves as its image's script says and
// that Started records the specs.
func TestScript(t *testing.T) {
	ctx := t.Context()
	rt := fake.New()
	rt.SetImage("job", fake.Script{
		ExitCode:  137,
		OOMKilled: true,
		Duration:  20 * time.Millisecond,
		Output: []runtime.LogLine{
			{Stream: "stdout", Text: "a"},
			{Stream: "stderr", Text: "b"},
		},
	})
	spec := runtime.Spec{Name: "j1", Image: "job", Labels: map[string]string{"job": "1"}}
	c, err := rt.Start(ctx, spec)
	if err != nil || !c.Running {
		t.Fatalf("Start = %+v, %v", c, err)
	}

	out := make(chan runtime.LogLine, 4)
	if err := rt.Logs(ctx, c.ID, time.Time{}, out); err != nil {
		t.Fatalf("Logs: %v", err)
	}
	var got []string
	for l := range out {
		got = append(got, l.Stream+":"+l.Text)
	}
	if len(got) != 2 || got[0] != "stdout:a" || got[1] != "stderr:b" {
		t.Errorf("Logs = %q, want stdout:a stderr:b", got)
	}

	exit, err := rt.Wait(ctx, c.ID)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if exit.ExitCode != 137 || !exit.OOMKilled || exit.Reason == "" || exit.FinishedAt.Sub(exit.StartedAt) < 20*time.Millisecond {
		t.Errorf("Wait = %+v, want OOM kill 137 after 20ms", exit)
	}
	if started := rt.Started(); len(started) != 1 || started[0].Name != "j1" {
		t.Errorf("Started = %+v, want the one spec", started)
	}
}

// TestWaitContext checks that Wait gives up with its context.
func TestWaitContext(t *testing.T) {
	rt := fake.New()
	rt.SetImage("long", fake.Script{Duration: time.Hour})
	c, err := rt.Start(t.Context(), runtime.Spec{Name: "long", Image: "long"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := rt.Wait(ctx, c.ID); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait = %v, want the context's deadline", err)
	}
	_ = rt.Remove(t.Context(), c.ID)
}
