package launcher

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/services/launcher/internal/runtime"
	"github.com/batchd/batchd/services/launcher/internal/runtime/fake"
)

func TestGPUSetTakeEach(t *testing.T) {
	g := newGPUSet([]string{"g=0", "g=1", "g=2", "g=3"})
	g.hold("other", []string{"g=1"})
	got, err := g.takeEach("t", []int{1, 0, 2}, nil)
	if err != nil || !slices.Equal(got[0], []string{"g=0"}) || got[1] != nil || !slices.Equal(got[2], []string{"g=2", "g=3"}) {
		t.Fatalf("takeEach = %v, %v; want g=0, none, g=2 g=3 (g=1 is held)", got, err)
	}
	if held := g.heldBy("t"); !slices.Equal(held, []string{"g=0", "g=2", "g=3"}) {
		t.Fatalf("t holds %v", held)
	}
	// Asked again (a redelivered placement): the same devices.
	if again, err := g.takeEach("t", []int{1, 0, 2}, nil); err != nil || !slices.Equal(slices.Concat(again...), []string{"g=0", "g=2", "g=3"}) {
		t.Fatalf("again = %v, %v", again, err)
	}
	// Fewer free than the total: nothing taken.
	if _, err := g.takeEach("u", []int{1, 1}, nil); !errors.Is(err, errGPUsBusy) {
		t.Fatalf("u: %v, want busy", err)
	}
	if held := g.heldBy("u"); len(held) != 0 {
		t.Fatalf("u holds %v after a failed take", held)
	}
	// More than the host has: a refusal, not busy.
	if _, err := g.takeEach("v", []int{3, 2}, nil); !errors.Is(err, runtime.ErrCannotStart) {
		t.Fatalf("v: %v, want cannot start", err)
	}
	g.release("t")
	// Containers that exist keep their devices; the others get free ones.
	got, err = g.takeEach("w", []int{1, 1, 1}, [][]string{nil, {"g=3"}, nil})
	if err != nil || !slices.Equal(got[0], []string{"g=0"}) || !slices.Equal(got[1], []string{"g=3"}) || !slices.Equal(got[2], []string{"g=2"}) {
		t.Fatalf("w = %v, %v", got, err)
	}
	// An existing container's device held by another attempt is busy.
	g.release("w")
	if _, err := g.takeEach("x", []int{1}, [][]string{{"g=1"}}); !errors.Is(err, errGPUsBusy) {
		t.Fatalf("x: %v, want busy (g=1 is other's)", err)
	}
}

// gpuTask is a task of two containers needing one GPU each.
func gpuTask(image string) *events.TaskSpec {
	return &events.TaskSpec{Containers: []events.TaskContainerSpec{
		{Name: "a", Container: events.ContainerSpec{Image: image, VCPUs: 1, MemoryMiB: 64, GPUs: 1}, Essential: true, StopTimeoutSeconds: 1},
		{Name: "b", Container: events.ContainerSpec{Image: image, VCPUs: 1, MemoryMiB: 64, GPUs: 1}, Essential: true, StopTimeoutSeconds: 1},
		{Name: "c", Container: events.ContainerSpec{Image: image, MemoryMiB: 64}, Essential: false, StopTimeoutSeconds: 1},
	}}
}

func (r *rig) placeTask(job string, task *events.TaskSpec) {
	r.t.Helper()
	r.record(job, batch.StatusStarting, 0)
	p := events.JobPlaced{JobID: job, Attempt: 1, HostID: "h1", ComputeEnvironment: "ce", JobQueue: "q", Task: task}
	if _, err := bus.Publish(context.Background(), r.js, p); err != nil {
		r.t.Fatal(err)
	}
}

// memberSpecs waits until the named containers of job's first attempt
// have started and returns their specs by name.
func (r *rig) memberSpecs(job string, within time.Duration, names ...string) map[string]runtime.Spec {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for {
		out := map[string]runtime.Spec{}
		for _, s := range r.rt.Started() {
			for _, n := range names {
				if s.Name == containerName(job, 1)+"-"+n {
					out[n] = s
				}
			}
		}
		if len(out) == len(names) {
			return out
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: %d of containers %v started within %v", job, len(out), names, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exitsBeforeStart reads facts until job's started fact and returns the jobs
// whose exit was reported before it.
func (r *rig) exitsBeforeStart(job string, within time.Duration) []string {
	r.t.Helper()
	var exited []string
	deadline := time.After(within)
	for {
		select {
		case m := <-r.facts:
			var f struct {
				JobID string `json:"jobId"`
			}
			_ = json.Unmarshal(m.Data, &f)
			verb := m.Header.Get(events.HeaderType)
			switch {
			case verb == events.TypeJobExited:
				exited = append(exited, f.JobID)
			case verb == events.TypeJobStarted && f.JobID == job:
				return exited
			}
		case <-deadline:
			r.t.Fatalf("%s not started within %v", job, within)
		}
	}
}

// Each container of a task that asks for a GPU gets its own device of the
// host (CDI device, NVIDIA_VISIBLE_DEVICES, label); a container without
// GPUs gets none; a second such task, placed while the first holds both
// of the host's GPUs, starts only once the first has ended.
func TestTaskGPUs(t *testing.T) {
	r := newRig(t)
	r.rt.SetImage("short", fake.Script{Duration: 500 * time.Millisecond})
	r.startGPUs(t)
	r.placeTask("p1", gpuTask("short"))
	first := r.memberSpecs("p1", 10*time.Second, "a", "b", "c")
	a, b := first["a"], first["b"]
	if len(a.GPUDevices) != 1 || len(b.GPUDevices) != 1 || a.GPUDevices[0] == b.GPUDevices[0] {
		t.Fatalf("a has %v, b has %v: want one distinct device each", a.GPUDevices, b.GPUDevices)
	}
	for _, s := range []runtime.Spec{a, b} {
		if want := s.GPUDevices[0][len("nvidia.com/gpu="):]; s.Env[envVisibleDevices] != want || s.Labels[labelGPUs] != s.GPUDevices[0] {
			t.Fatalf("%s: env %s=%q label %q, want %q and %q", s.Name, envVisibleDevices, s.Env[envVisibleDevices],
				s.Labels[labelGPUs], want, s.GPUDevices[0])
		}
	}
	if c := first["c"]; len(c.GPUDevices) != 0 || c.Env[envVisibleDevices] != "" {
		t.Fatalf("c asks for no GPU and has %v (%q)", c.GPUDevices, c.Env[envVisibleDevices])
	}
	r.placeTask("p2", gpuTask("short"))
	if before := r.exitsBeforeStart("p2", 20*time.Second); !slices.Contains(before, "p1") {
		t.Fatalf("p2 started before p1's exit (exits before: %v)", before)
	}
	second := r.memberSpecs("p2", 5*time.Second, "a", "b")
	got := slices.Concat(second["a"].GPUDevices, second["b"].GPUDevices)
	slices.Sort(got)
	if !slices.Equal(got, []string{"nvidia.com/gpu=0", "nvidia.com/gpu=1"}) {
		t.Fatalf("p2 has %v, want both devices, one each", got)
	}
}

// A task asking for more GPUs than the host has fails at once, naming the
// total.
func TestTaskGPUsMoreThanTheHostHas(t *testing.T) {
	r := newRig(t)
	r.rt.SetImage("long", fake.Script{Duration: time.Hour})
	r.startGPUs(t)
	task := gpuTask("long")
	task.Containers[1].Container.GPUs = 2
	r.placeTask("big", task)
	var exited events.JobExited
	_ = json.Unmarshal(r.next("exited", 10*time.Second).Data, &exited)
	if exited.StatusReason != "CannotStartContainerError: the job's containers need 3 GPUs together, this host has 2" || exited.ExitCode != nil {
		t.Fatalf("exited %+v", exited)
	}
}

// A restarted launcher re-adopting a pod holds every device of its
// containers (not only the last one's): a GPU job placed after the
// restart starts only once the pod has ended.
func TestTaskGPUsKeptAcrossRestart(t *testing.T) {
	r := newRig(t)
	r.rt.SetImage("short", fake.Script{Duration: 2 * time.Second})
	r.rt.SetImage("long", fake.Script{Duration: time.Hour})
	ctx := context.Background()
	pod := containerName("old", 1)
	if _, err := r.rt.CreatePod(ctx, runtime.PodSpec{Name: pod}); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"a", "b"} {
		labels := labelsOf("old", 1)
		labels[labelPod], labels[labelContainer], labels[labelEssential] = pod, name, "true"
		labels[labelMembers], labels[labelIndex], labels[labelStopTimeout] = "2", strconv.Itoa(i), "1"
		dev := "nvidia.com/gpu=" + strconv.Itoa(i)
		labels[labelGPUs] = dev
		c, err := r.rt.Create(ctx, runtime.Spec{Name: pod + "-" + name, Image: "short", Pod: pod, GPUDevices: []string{dev}, Labels: labels})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.rt.StartCreated(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	r.record("old", batch.StatusRunning, 0)
	r.startGPUs(t)
	r.placeGPUs("new", "long", 1)
	if before := r.exitsBeforeStart("new", 20*time.Second); !slices.Contains(before, "old") {
		t.Fatalf("new started before the re-adopted pod ended (exits before: %v)", before)
	}
}
