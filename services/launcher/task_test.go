package launcher

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/services/launcher/internal/runtime/fake"
)

// A task on the fake runtime: the init container runs first (SUCCESS),
// the sidecar (START) and then the main container; the main container's
// exit stops the long sidecar; the exit report has every container's end
// and the essential container's code is the job's; the pod is removed.
func TestTaskRunsAsAPod(t *testing.T) {
	r := newRig(t)
	r.rt.SetImage("init", fake.Script{Duration: 20 * time.Millisecond})
	r.rt.SetImage("side", fake.Script{Duration: time.Hour})
	r.rt.SetImage("main", fake.Script{ExitCode: 3, Duration: 50 * time.Millisecond})
	r.record("t1", batch.StatusStarting, 0)
	c := func(image string) events.ContainerSpec {
		return events.ContainerSpec{Image: image, VCPUs: 1, MemoryMiB: 64}
	}
	p := events.JobPlaced{JobID: "t1", Attempt: 1, HostID: "h1", ComputeEnvironment: "ce", JobQueue: "q", Task: &events.TaskSpec{
		Containers: []events.TaskContainerSpec{
			{Name: "init", Container: c("init"), StopTimeoutSeconds: 1},
			{Name: "side", Container: c("side"), StopTimeoutSeconds: 1},
			{Name: "main", Container: c("main"), Essential: true, StopTimeoutSeconds: 1, DependsOn: []batch.TaskContainerDependency{
				{ContainerName: "init", Condition: batch.DependSuccess}, {ContainerName: "side", Condition: batch.DependStart}}},
		}}}
	if _, err := bus.Publish(context.Background(), r.js, p); err != nil {
		t.Fatal(err)
	}
	r.start(t)
	r.next("started", 10*time.Second)
	var ex events.JobExited
	if err := json.Unmarshal(r.next("exited", 10*time.Second).Data, &ex); err != nil {
		t.Fatal(err)
	}
	if ex.ExitCode == nil || *ex.ExitCode != 3 || len(ex.Containers) != 3 {
		t.Fatalf("exit = %+v, want the main container's 3 and three results", ex)
	}
	want := map[string]int{"init": 0, "side": fake.StopExitCode, "main": 3}
	for _, res := range ex.Containers {
		if res.ExitCode == nil || *res.ExitCode != want[res.Name] {
			t.Errorf("container %s ended %v, want %d", res.Name, res.ExitCode, want[res.Name])
		}
	}
	if pods := r.rt.Pods(); len(pods) != 1 || pods[0].Name != containerName("t1", 1) {
		t.Fatalf("pods = %+v", pods)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		cs, _ := r.rt.List(context.Background(), map[string]string{labelJob: "t1"})
		if len(cs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("containers left after the task: %+v", cs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TerminateJob of a running task stops every container; the attempt ends
// with the termination's reason, never retried.
func TestTaskTerminated(t *testing.T) {
	r := newRig(t)
	r.rt.SetImage("long", fake.Script{Duration: time.Hour})
	r.record("t2", batch.StatusStarting, 0)
	p := events.JobPlaced{JobID: "t2", Attempt: 1, HostID: "h1", ComputeEnvironment: "ce", JobQueue: "q", Task: &events.TaskSpec{
		Containers: []events.TaskContainerSpec{
			{Name: "side", Container: events.ContainerSpec{Image: "long"}, StopTimeoutSeconds: 1},
			{Name: "main", Container: events.ContainerSpec{Image: "long"}, Essential: true, StopTimeoutSeconds: 1},
		}}}
	if _, err := bus.Publish(context.Background(), r.js, p); err != nil {
		t.Fatal(err)
	}
	r.start(t)
	r.next("started", 10*time.Second)
	stop := events.JobStop{JobID: "t2", Attempt: 1, HostID: "h1", Reason: "stop it"}
	if _, err := bus.Publish(context.Background(), r.js, stop); err != nil {
		t.Fatal(err)
	}
	var ex events.JobExited
	if err := json.Unmarshal(r.next("exited", 10*time.Second).Data, &ex); err != nil {
		t.Fatal(err)
	}
	if !ex.NoRetry || ex.StatusReason != "stop it" || len(ex.Containers) != 2 {
		t.Fatalf("exit = %+v, want both containers stopped, the reason and no retry", ex)
	}
	for _, res := range ex.Containers {
		if res.ExitCode == nil || *res.ExitCode != fake.StopExitCode {
			t.Errorf("container %s ended %v, want stopped", res.Name, res.ExitCode)
		}
	}
}
