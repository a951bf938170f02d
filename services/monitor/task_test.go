package monitor

import (
	"testing"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

func taskJob() batch.JobDetail {
	j := job(batch.StatusStarting, 0, &batch.RetryStrategy{Attempts: 2})
	j.Container = nil
	j.EcsProperties = &batch.EcsPropertiesDetail{TaskProperties: []batch.EcsTaskDetails{{Containers: []batch.TaskContainerDetails{
		{TaskContainerProperties: batch.TaskContainerProperties{Name: "side", Image: "bb"}},
		{TaskContainerProperties: batch.TaskContainerProperties{Name: "main", Image: "bb"}},
	}}}}
	return j
}

func TestTaskAttempts(t *testing.T) {
	j := taskJob()
	if !applyStarted(&j, events.JobStarted{JobID: testJobID, HostID: "h1", Attempt: 1, ContainerID: "pod1", StartedAt: 10}) {
		t.Fatal("start not applied")
	}
	if j.Container != nil {
		t.Fatal("a multi-container job has no container of its own")
	}
	task := j.EcsProperties.Task()
	if task.TaskArn != "pod1" || task.Containers[1].LogStreamName != events.LogContainerSubject(testJobID, 1, "main") {
		t.Fatalf("task after start = %+v", task)
	}
	ex := events.JobExited{JobID: testJobID, HostID: "h1", Attempt: 1, ContainerID: "pod1", ExitCode: intp(3), StoppedAt: 20,
		Containers: []events.ContainerResult{{Name: "side", ExitCode: intp(143)}, {Name: "main", ExitCode: intp(3)}}}
	if !applyExited(&j, ex) {
		t.Fatal("exit not applied")
	}
	if j.Status != batch.StatusRunnable {
		t.Fatalf("status = %s, want a retry (RUNNABLE)", j.Status)
	}
	a := j.Attempts[0]
	if a.Container != nil || len(a.TaskProperties) != 1 || len(a.TaskProperties[0].Containers) != 2 {
		t.Fatalf("attempt = %+v", a)
	}
	if c := a.TaskProperties[0].Containers[1]; c.Name != "main" || *c.ExitCode != 3 || c.LogStreamName != events.LogContainerSubject(testJobID, 1, "main") {
		t.Fatalf("attempt container = %+v", c)
	}
	if a.StatusReason != reasonEssentialExited {
		t.Fatalf("attempt statusReason = %q", a.StatusReason)
	}
	if c := task.Containers[0]; c.ExitCode == nil || *c.ExitCode != 143 {
		t.Fatalf("record container = %+v, want its exit code", c)
	}
	// Second attempt: a dependency failed, the essential container never ran.
	j.Status, j.HostID = batch.StatusStarting, "h1"
	applyStarted(&j, events.JobStarted{JobID: testJobID, HostID: "h1", Attempt: 2, ContainerID: "pod2", StartedAt: 30})
	if task.Containers[1].ExitCode != nil {
		t.Fatal("a new attempt clears the previous results")
	}
	reason := "Essential container main never started: dependency side (condition SUCCESS) exited with code 1"
	applyExited(&j, events.JobExited{JobID: testJobID, HostID: "h1", Attempt: 2, StatusReason: reason, Reason: reason, StoppedAt: 40,
		Containers: []events.ContainerResult{{Name: "side", ExitCode: intp(1)}, {Name: "main", Reason: "dependency side (condition SUCCESS) exited with code 1"}}})
	if j.Status != batch.StatusFailed || j.StatusReason != reason {
		t.Fatalf("status = %s %q", j.Status, j.StatusReason)
	}
	if c := j.Attempts[1].TaskProperties[0].Containers[1]; c.ExitCode != nil || c.Reason == "" {
		t.Fatalf("never-started container = %+v", c)
	}
}
