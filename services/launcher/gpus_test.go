package launcher

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/services/launcher/internal/runtime"
	"github.com/batchd/batchd/services/launcher/internal/runtime/fake"
)

// startGPUs runs the launcher of host h1 with two GPUs named by index.
func (r *rig) startGPUs(t *testing.T) {
	nc := r.js.Conn()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{HostID: "h1", VCPUs: 4, MemoryMiB: 4096, GPUs: 2, StopGrace: 100 * time.Millisecond},
			Deps{NATS: nc, Runtime: r.rt})
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func (r *rig) placeGPUs(job, image string, gpus int) {
	r.t.Helper()
	r.record(job, batch.StatusStarting, 0)
	p := events.JobPlaced{JobID: job, Attempt: 1, HostID: "h1", ComputeEnvironment: "ce", JobQueue: "q",
		Container: events.ContainerSpec{Image: image, VCPUs: 1, MemoryMiB: 64, GPUs: gpus}}
	if _, err := bus.Publish(context.Background(), r.js, p); err != nil {
		r.t.Fatal(err)
	}
}

// startedSpec waits for the container of job's first attempt.
func (r *rig) startedSpec(job string, within time.Duration) runtime.Spec {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for {
		for _, s := range r.rt.Started() {
			if s.Name == containerName(job, 1) {
				return s
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s not started within %v", job, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Each GPU job gets its own devices, with NVIDIA_VISIBLE_DEVICES and the
// label saying which; a device is given again only once its container
// has exited.
func TestGPUsAreNeverShared(t *testing.T) {
	r := newRig(t)
	r.rt.SetImage("short", fake.Script{Duration: 300 * time.Millisecond})
	r.rt.SetImage("long", fake.Script{Duration: time.Hour})
	r.startGPUs(t)
	r.placeGPUs("a", "short", 1)
	a := r.startedSpec("a", 5*time.Second)
	r.placeGPUs("b", "long", 1)
	b := r.startedSpec("b", 5*time.Second)
	if len(a.GPUDevices) != 1 || len(b.GPUDevices) != 1 || a.GPUDevices[0] == b.GPUDevices[0] {
		t.Fatalf("a has %v, b has %v: want one distinct device each", a.GPUDevices, b.GPUDevices)
	}
	for _, s := range []runtime.Spec{a, b} {
		if want := s.GPUDevices[0][len("nvidia.com/gpu="):]; s.Env[envVisibleDevices] != want || s.Labels[labelGPUs] != s.GPUDevices[0] {
			t.Fatalf("%s: env %s=%q label %q, want %q and %q", s.Name, envVisibleDevices, s.Env[envVisibleDevices],
				s.Labels[labelGPUs], want, s.GPUDevices[0])
		}
	}
	// c is placed while both devices are held: it starts once a has
	// exited, on a's device.
	r.placeGPUs("c", "long", 1)
	c := r.startedSpec("c", 10*time.Second)
	if !slices.Equal(c.GPUDevices, a.GPUDevices) {
		t.Fatalf("c has %v, want a's freed %v (b holds %v)", c.GPUDevices, a.GPUDevices, b.GPUDevices)
	}
}

// A restarted launcher knows which devices the running containers it
// re-adopts hold.
func TestGPUsKeptAcrossRestart(t *testing.T) {
	r := newRig(t)
	r.rt.SetImage("long", fake.Script{Duration: time.Hour})
	if _, err := r.rt.Start(context.Background(), runtime.Spec{Name: containerName("old", 1), Image: "long",
		GPUDevices: []string{"nvidia.com/gpu=0"},
		Labels:     map[string]string{labelJob: "old", labelAttempt: "1", labelHost: "h1", labelGPUs: "nvidia.com/gpu=0"}}); err != nil {
		t.Fatal(err)
	}
	r.record("old", batch.StatusRunning, 0)
	r.startGPUs(t)
	r.placeGPUs("new", "long", 1)
	if got := r.startedSpec("new", 5*time.Second).GPUDevices; !slices.Equal(got, []string{"nvidia.com/gpu=1"}) {
		t.Fatalf("new job has %v, want nvidia.com/gpu=1 (gpu=0 is held by the re-adopted container)", got)
	}
}

// A job needing more GPUs than the host has fails at once.
func TestGPUsMoreThanTheHostHas(t *testing.T) {
	r := newRig(t)
	r.rt.SetImage("long", fake.Script{Duration: time.Hour})
	r.startGPUs(t)
	r.placeGPUs("big", "long", 3)
	var exited events.JobExited
	_ = json.Unmarshal(r.next("exited", 5*time.Second).Data, &exited)
	if exited.StatusReason != "CannotStartContainerError: the job needs 3 GPUs, this host has 2" || exited.ExitCode != nil {
		t.Fatalf("exited %+v", exited)
	}
}

func TestGPUSet(t *testing.T) {
	g := newGPUSet([]string{"g=0", "g=1", "g=2"})
	a, err := g.take("a", 2)
	if err != nil || !slices.Equal(a, []string{"g=0", "g=1"}) {
		t.Fatalf("take a: %v %v", a, err)
	}
	if again, _ := g.take("a", 2); !slices.Equal(again, a) {
		t.Fatalf("a again got %v, want the same %v", again, a)
	}
	if _, err := g.take("b", 2); err == nil {
		t.Fatal("b got 2 of 1 free")
	}
	g.hold("b", []string{"g=2"})
	g.release("a")
	if got, err := g.take("c", 2); err != nil || !slices.Equal(got, []string{"g=0", "g=1"}) {
		t.Fatalf("take c: %v %v", got, err)
	}
}
