// Package runtimetest is a conformance suite for runtime.Runtime
// implementations. Run runs every case against a real engine, whose image
// must provide a busybox-like sh, echo, seq, sleep and cat; each case is
// also exported so that a fake can run the ones that make sense for it
// (with images scripted to behave as the case expects).
//
// Every case names its containers uniquely (test name plus a random suffix),
// labels them with LabelKey, and removes them when it ends.
package runtimetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/batchd/batchd/services/launcher/internal/runtime"
)

// LabelKey is set on every container the suite starts; its value is unique
// per case.
const LabelKey = "batchd.runtimetest"

// NewRuntime returns the runtime under test. Cases run in parallel and may
// share one runtime.
type NewRuntime = func(t *testing.T) runtime.Runtime

// Case is one conformance check.
type Case = func(t *testing.T, newRuntime NewRuntime, image string)

// Run runs all cases, in parallel, against the runtime.
func Run(t *testing.T, newRuntime NewRuntime, image string) {
	cases := []struct {
		name string
		run  Case
	}{
		{"ExitCode", ExitCode},
		{"Env", Env},
		{"LogStreams", LogStreams},
		{"ManyLines", ManyLines},
		{"SameName", SameName},
		{"MissingImage", MissingImage},
		{"BadCommand", BadCommand},
		{"Resources", Resources},
		{"StopListRemove", StopListRemove},
		{"PodLifecycle", PodLifecycle},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newRuntime, image)
		})
	}
}

// ExitCode: Wait reports the command's exit code (0 and 7) and the run's
// start and end times.
func ExitCode(t *testing.T, newRuntime NewRuntime, image string) {
	rt := newRuntime(t)
	ctx := testContext(t)
	ids := map[int]string{}
	for _, code := range []int{0, 7} {
		c := start(t, rt, runtime.Spec{
			Name:    uniqueName(t) + "-" + strconv.Itoa(code),
			Image:   image,
			Command: []string{"sh", "-c", fmt.Sprintf("exit %d", code)},
		})
		ids[code] = c.ID
	}
	for code, id := range ids {
		exit, err := rt.Wait(ctx, id)
		if err != nil {
			t.Fatalf("Wait(exit %d): %v", code, err)
		}
		if exit.ExitCode != code || exit.OOMKilled {
			t.Errorf("Wait(exit %d) = %+v, want ExitCode %d, not OOM-killed", code, exit, code)
		}
		if exit.StartedAt.IsZero() || exit.FinishedAt.Before(exit.StartedAt) {
			t.Errorf("Wait(exit %d): StartedAt %v, FinishedAt %v: want set and ordered", code, exit.StartedAt, exit.FinishedAt)
		}
	}
}

// Env: the spec's environment variables are visible to the command.
func Env(t *testing.T, newRuntime NewRuntime, image string) {
	rt := newRuntime(t)
	c := start(t, rt, runtime.Spec{
		Image:   image,
		Command: []string{"sh", "-c", `echo "$FOO"`},
		Env:     map[string]string{"FOO": "bar baz"},
		Network: "host",
	})
	lines, exit := finish(t, rt, c.ID)
	if exit.ExitCode != 0 {
		t.Errorf("exit code %d, want 0", exit.ExitCode)
	}
	if got := texts(lines); !slices.Equal(got, []string{"bar baz"}) {
		t.Errorf("output %q, want [\"bar baz\"]", got)
	}
}

// LogStreams: Logs delivers stdout and stderr lines, tagged and timestamped,
// in the order they were written, including a long line (which engines log
// in parts) and a last line without a newline.
func LogStreams(t *testing.T, newRuntime NewRuntime, image string) {
	rt := newRuntime(t)
	c := start(t, rt, runtime.Spec{
		Image: image,
		// The sleeps keep the order across the two pipes unambiguous.
		Command: []string{"sh", "-c", "echo out1; sleep 0.2; echo err1 >&2; sleep 0.2; echo out2; " +
			"head -c 20000 /dev/zero | tr '\\0' x; echo; printf out3"},
	})
	lines, _ := finish(t, rt, c.ID)
	want := []runtime.LogLine{
		{Stream: "stdout", Text: "out1"},
		{Stream: "stderr", Text: "err1"},
		{Stream: "stdout", Text: "out2"},
		{Stream: "stdout", Text: strings.Repeat("x", 20000)},
		{Stream: "stdout", Text: "out3"},
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines %v, want %v", len(lines), lines, want)
	}
	for i, l := range lines {
		if l.Stream != want[i].Stream || l.Text != want[i].Text {
			t.Errorf("line %d = %s %.40q (%d bytes), want %s %.40q (%d bytes)",
				i, l.Stream, l.Text, len(l.Text), want[i].Stream, want[i].Text, len(want[i].Text))
		}
		if l.Time.IsZero() {
			t.Errorf("line %d has no time", i)
		}
	}
}

// ManyLines: no line is lost when a container prints 1000 lines at once and
// exits, whether Logs follows it from the start or is called after it
// exited; Since skips earlier lines.
func ManyLines(t *testing.T, newRuntime NewRuntime, image string) {
	const n = 1000
	rt := newRuntime(t)
	c := start(t, rt, runtime.Spec{
		Image: image,
		// The pause lets Logs start following before the burst.
		Command: []string{"sh", "-c", "sleep 1; seq 1 " + strconv.Itoa(n)},
	})
	want := make([]string, n)
	for i := range want {
		want[i] = strconv.Itoa(i + 1)
	}

	followed := collectLogs(t, rt, c.ID, time.Time{}) // starts while it runs
	if got := texts(followed); !slices.Equal(got, want) {
		t.Fatalf("followed logs: %d lines (first %q), want 1..%d in order", len(got), head(got), n)
	}
	exit, err := rt.Wait(testContext(t), c.ID)
	if err != nil || exit.ExitCode != 0 {
		t.Fatalf("Wait = %+v, %v; want exit 0", exit, err)
	}
	after := collectLogs(t, rt, c.ID, time.Time{}) // container has exited
	if got := texts(after); !slices.Equal(got, want) {
		t.Fatalf("logs after exit: %d lines (first %q), want 1..%d in order", len(got), head(got), n)
	}

	// Engines may report coarse times (Podman 4.3: whole seconds), so
	// Since is only required to return a tail that includes every line
	// stamped after it.
	since := followed[n/2].Time
	tail := texts(collectLogs(t, rt, c.ID, since))
	if len(tail) == 0 || !slices.Equal(tail, want[n-len(tail):]) {
		t.Errorf("logs since line %d: %d lines, want a tail of the output", n/2+1, len(tail))
	}
	for i, l := range followed {
		if l.Time.After(since) && len(tail) < n-i {
			t.Errorf("logs since %v miss line %d stamped %v", since, i+1, l.Time)
			break
		}
	}
	if late := collectLogs(t, rt, c.ID, exit.FinishedAt.Add(time.Second)); len(late) != 0 {
		t.Errorf("logs since after the end: %d lines, want none", len(late))
	}
}

// SameName: Starts with the same name, also concurrent ones, return the
// same container and run the command once, also after it exited.
func SameName(t *testing.T, newRuntime NewRuntime, image string) {
	const concurrent = 3
	rt := newRuntime(t)
	ctx := testContext(t)
	spec := runtime.Spec{
		Name:    uniqueName(t),
		Image:   image,
		Command: []string{"sh", "-c", "echo once"},
		Labels:  map[string]string{LabelKey: suffix()},
		Network: "none",
	}
	t.Cleanup(func() { cleanup(t, rt, spec.Name) })
	var wg sync.WaitGroup
	started := make([]runtime.Container, concurrent)
	errs := make([]error, concurrent)
	for i := range concurrent {
		wg.Go(func() { started[i], errs[i] = rt.Start(ctx, spec) })
	}
	wg.Wait()
	for i := range concurrent {
		if errs[i] != nil {
			t.Fatalf("concurrent Start %d: %v", i, errs[i])
		}
		if started[i].ID == "" || started[i].ID != started[0].ID {
			t.Errorf("concurrent Start %d returned container %q, Start 0 %q: want the same", i, started[i].ID, started[0].ID)
		}
	}
	id := started[0].ID
	lines, _ := finish(t, rt, id)
	again, err := rt.Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start after exit: %v", err)
	}
	if again.ID != id || again.Running {
		t.Errorf("Start after exit = %+v, want container %s, not running", again, id)
	}
	if got := texts(lines); !slices.Equal(got, []string{"once"}) {
		t.Errorf("output %q, want one \"once\"", got)
	}
	list, err := rt.List(ctx, spec.Labels)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(list) != 1 {
		t.Errorf("List by the case's label: %d containers, want 1", len(list))
	}
}

// MissingImage: Start with an image that is not present fails with
// ErrImageNotFound and ErrCannotStart, and leaves no container behind.
func MissingImage(t *testing.T, newRuntime NewRuntime, _ string) {
	rt := newRuntime(t)
	spec := runtime.Spec{
		Name:    uniqueName(t),
		Image:   "localhost/runtimetest-missing-" + suffix() + ":latest",
		Command: []string{"true"},
		Labels:  map[string]string{LabelKey: suffix()},
		Network: "none",
	}
	_, err := rt.Start(testContext(t), spec)
	if !errors.Is(err, runtime.ErrImageNotFound) || !errors.Is(err, runtime.ErrCannotStart) {
		t.Fatalf("Start with a missing image: %v; want ErrImageNotFound and ErrCannotStart", err)
	}
	assertGone(t, rt, spec.Labels)
}

// BadCommand: a command the engine cannot execute fails Start with
// ErrCannotStart (but not ErrImageNotFound) and leaves no container behind.
func BadCommand(t *testing.T, newRuntime NewRuntime, image string) {
	rt := newRuntime(t)
	spec := runtime.Spec{
		Name:    uniqueName(t),
		Image:   image,
		Command: []string{"/no/such/program"},
		Labels:  map[string]string{LabelKey: suffix()},
		Network: "none",
	}
	t.Cleanup(func() { cleanup(t, rt, spec.Name) })
	_, err := rt.Start(testContext(t), spec)
	if !errors.Is(err, runtime.ErrCannotStart) || errors.Is(err, runtime.ErrImageNotFound) {
		t.Fatalf("Start with a missing program: %v; want ErrCannotStart only", err)
	}
	t.Logf("engine's reason: %v", err)
	assertGone(t, rt, spec.Labels)
}

// Resources: the memory limit and the CPU quota (0.5 vCPU, CPULimit
// quota) are applied to the container's cgroup (v1 or v2); by default the
// vCPUs are CPU shares (512 for 0.5 vCPU; cgroup v2 weight 20).
func Resources(t *testing.T, newRuntime NewRuntime, image string) {
	rt := newRuntime(t)
	shares := start(t, rt, runtime.Spec{
		Image: image, VCPUs: 0.5,
		Command: []string{"sh", "-c", "cat /sys/fs/cgroup/cpu/cpu.shares 2>/dev/null || cat /sys/fs/cgroup/cpu.weight"},
	})
	if lines, exit := finish(t, rt, shares.ID); exit.ExitCode != 0 || len(lines) != 1 || (lines[0].Text != "512" && lines[0].Text != "20") {
		t.Errorf("CPU shares: exit %d, output %q; want 512 (v1) or weight 20 (v2)", exit.ExitCode, texts(lines))
	}
	c := start(t, rt, runtime.Spec{
		Image:     image,
		MemoryMiB: 64,
		VCPUs:     0.5,
		Settings:  runtime.Settings{CPULimit: runtime.CPUQuota},
		Command: []string{"sh", "-c", "" +
			"cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; " +
			"cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/cpu.max"},
	})
	lines, exit := finish(t, rt, c.ID)
	got := texts(lines)
	if exit.ExitCode != 0 || len(got) != 2 {
		t.Fatalf("exit %d, output %q; want exit 0 and two lines", exit.ExitCode, got)
	}
	if want := strconv.Itoa(64 << 20); got[0] != want {
		t.Errorf("memory limit %q, want %s", got[0], want)
	}
	if got[1] != "50000" && got[1] != "50000 100000" {
		t.Errorf("CPU quota %q, want 50000 (v1) or \"50000 100000\" (v2)", got[1])
	}
}

// StopListRemove: List finds a running container by label; Logs of it
// return when their context ends; Stop ends a command that ignores SIGTERM
// within the grace period (stopping it again is no error); List then shows
// it exited; after Remove it is gone, and removing it again is no error.
func StopListRemove(t *testing.T, newRuntime NewRuntime, image string) {
	const grace = 2 * time.Second
	rt := newRuntime(t)
	ctx := testContext(t)
	c := start(t, rt, runtime.Spec{Image: image, Command: []string{"sleep", "300"}})

	list := listOne(t, rt, c.Labels)
	if list.ID != c.ID || list.Name != c.Name || !list.Running || list.Labels[LabelKey] != c.Labels[LabelKey] {
		t.Errorf("List = %+v, want %s (%s) running with the case's label", list, c.ID, c.Name)
	}

	// Logs of a running container end with their context.
	logCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	out := make(chan runtime.LogLine)
	if err := rt.Logs(logCtx, c.ID, time.Time{}, out); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Logs with an expiring context = %v, want context.DeadlineExceeded", err)
	}
	if _, open := <-out; open {
		t.Errorf("Logs left its channel open")
	}

	begin := time.Now()
	if err := rt.Stop(ctx, c.ID, grace); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	exit, err := rt.Wait(ctx, c.ID)
	if err != nil {
		t.Fatalf("Wait after Stop: %v", err)
	}
	// sleep as PID 1 ignores SIGTERM, so it takes the SIGKILL after grace;
	// allow the engine a few seconds on top.
	if took := time.Since(begin); took > grace+5*time.Second {
		t.Errorf("Stop took %v, want about the %v grace", took, grace)
	}
	if exit.ExitCode == 0 {
		t.Errorf("exit code 0 after Stop, want a signal's (137 or 143)")
	}
	if again := listOne(t, rt, c.Labels); again.Running {
		t.Errorf("List after Stop = %+v, want not running", again)
	}
	if err := rt.Stop(ctx, c.ID, grace); err != nil {
		t.Errorf("Stop of an exited container: %v, want nil", err)
	}

	if err := rt.Remove(ctx, c.ID); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	assertGone(t, rt, c.Labels)
	if err := rt.Remove(ctx, c.ID); err != nil {
		t.Errorf("Remove of a removed container: %v, want nil", err)
	}
}

// testContext bounds one case's calls.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// start starts spec, filling in a unique name, a unique LabelKey label and
// network "none" where unset, and removes the container when the test ends.
func start(t *testing.T, rt runtime.Runtime, spec runtime.Spec) runtime.Container {
	t.Helper()
	if spec.Name == "" {
		spec.Name = uniqueName(t)
	}
	if spec.Network == "" {
		spec.Network = "none"
	}
	spec.Labels = map[string]string{LabelKey: suffix()}
	t.Cleanup(func() { cleanup(t, rt, spec.Name) })
	c, err := rt.Start(testContext(t), spec)
	if err != nil {
		t.Fatalf("Start %s: %v", spec.Name, err)
	}
	if c.ID == "" || c.Name != spec.Name {
		t.Fatalf("Start %s = %+v, want an ID and the name", spec.Name, c)
	}
	if c.Labels == nil {
		c.Labels = spec.Labels
	}
	return c
}

// cleanup removes a container the case created, by name or ID.
func cleanup(t *testing.T, rt runtime.Runtime, nameOrID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rt.Remove(ctx, nameOrID); err != nil {
		t.Errorf("cleanup: Remove %s: %v", nameOrID, err)
	}
}

// finish collects the container's whole output and then its exit.
func finish(t *testing.T, rt runtime.Runtime, id string) ([]runtime.LogLine, runtime.Exit) {
	t.Helper()
	lines := collectLogs(t, rt, id, time.Time{})
	exit, err := rt.Wait(testContext(t), id)
	if err != nil {
		t.Fatalf("Wait %s: %v", id, err)
	}
	return lines, exit
}

// collectLogs runs Logs to its end and returns the lines.
func collectLogs(t *testing.T, rt runtime.Runtime, id string, since time.Time) []runtime.LogLine {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out := make(chan runtime.LogLine, 16)
	errc := make(chan error, 1)
	go func() { errc <- rt.Logs(ctx, id, since, out) }()
	var lines []runtime.LogLine
	for l := range out {
		lines = append(lines, l)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Logs %s (since %v): %v (after %d lines)", id, since, err, len(lines))
	}
	return lines
}

// listOne lists by labels and requires exactly one container.
func listOne(t *testing.T, rt runtime.Runtime, labels map[string]string) runtime.Container {
	t.Helper()
	list, err := rt.List(testContext(t), labels)
	if err != nil {
		t.Fatalf("List %v: %v", labels, err)
	}
	if len(list) != 1 {
		t.Fatalf("List %v: %d containers, want 1", labels, len(list))
	}
	return list[0]
}

// assertGone requires that no container has the labels.
func assertGone(t *testing.T, rt runtime.Runtime, labels map[string]string) {
	t.Helper()
	list, err := rt.List(testContext(t), labels)
	if err != nil {
		t.Fatalf("List %v: %v", labels, err)
	}
	if len(list) != 0 {
		t.Errorf("List %v: %+v, want none", labels, list)
	}
}

// uniqueName is a valid container name made of the test's name and a
// random suffix.
func uniqueName(t *testing.T) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return '-'
	}, t.Name())
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return "rtt-" + strings.Trim(name, "-.") + "-" + suffix()
}

// suffix is a short random hex string.
func suffix() string {
	return fmt.Sprintf("%08x", rand.Uint32())
}

// texts returns the lines' texts.
func texts(lines []runtime.LogLine) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.Text
	}
	return out
}

// head returns the first few strings, for messages.
func head(s []string) []string {
	return s[:min(len(s), 5)]
}
