package launcher

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/services/launcher/internal/runtime"
	"github.com/batchd/batchd/services/launcher/internal/runtime/fake"
)

// A launcher that died while creating a pod left it incomplete; the job
// was cancelled meanwhile. The placement's redelivery is not carried out,
// and what was left of the pod goes with it.
func TestIncompletePodOfUnwantedPlacementIsRemoved(t *testing.T) {
	r := newRig(t)
	r.rt.SetImage("img", fake.Script{Duration: time.Hour})
	ctx := context.Background()
	pod := containerName("gone", 1)
	podBefore, err := r.rt.CreatePod(ctx, runtime.PodSpec{Name: pod})
	if err != nil {
		t.Fatal(err)
	}
	labels := labelsOf("gone", 1)
	labels[labelPod], labels[labelContainer], labels[labelEssential] = pod, "a", "true"
	labels[labelMembers], labels[labelIndex], labels[labelStopTimeout] = "2", strconv.Itoa(0), "1"
	if _, err := r.rt.Create(ctx, runtime.Spec{Name: pod + "-a", Image: "img", Pod: pod, Labels: labels}); err != nil {
		t.Fatal(err)
	}
	r.record("gone", batch.StatusFailed, 0)
	r.start(t)
	task := &events.TaskSpec{Containers: []events.TaskContainerSpec{
		{Name: "a", Container: events.ContainerSpec{Image: "img", VCPUs: 1, MemoryMiB: 64}, Essential: true},
		{Name: "b", Container: events.ContainerSpec{Image: "img", VCPUs: 1, MemoryMiB: 64}, Essential: true}}}
	if _, err := bus.Publish(ctx, r.js, events.JobPlaced{JobID: "gone", Attempt: 1, HostID: "h1",
		ComputeEnvironment: "ce", JobQueue: "q", Task: task}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		left, err := r.rt.List(ctx, map[string]string{labelJob: "gone"})
		if err != nil {
			t.Fatal(err)
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: containers %v left of the cancelled job's attempt", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if started := r.rt.Started(); len(started) != 0 {
		t.Fatalf("started %d containers of a cancelled job", len(started))
	}
	// The pod went too: the same name makes a new one.
	if again, err := r.rt.CreatePod(ctx, runtime.PodSpec{Name: pod}); err != nil || again.ID == podBefore.ID {
		t.Fatalf("the pod was not removed (%v, %v)", again, err)
	}
}
