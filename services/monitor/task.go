package monitor

import (
	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

// A multi-container job (ecsProperties) has no container of its own: its
// record's task shows each container's log stream from the start of an
// attempt and its result at the end, and each attempt keeps its
// containers' results in taskProperties.

// taskStarted records a task's start: the pod, each container's log
// stream, the previous attempt's results cleared.
func taskStarted(t *batch.EcsTaskDetails, jobID string, f events.JobStarted) {
	t.TaskArn = f.ContainerID
	for i := range t.Containers {
		c := &t.Containers[i]
		c.LogStreamName = events.LogContainerSubject(jobID, f.Attempt, c.Name)
		c.ExitCode, c.Reason = nil, ""
	}
}

// taskExited records how each container of the task ended, on the record's
// task, and returns the attempt's taskProperties.
func taskExited(t *batch.EcsTaskDetails, jobID string, f events.JobExited) []batch.AttemptEcsTaskDetails {
	results := make(map[string]events.ContainerResult, len(f.Containers))
	for _, r := range f.Containers {
		results[r.Name] = r
	}
	if f.ContainerID != "" {
		t.TaskArn = f.ContainerID
	}
	at := batch.AttemptEcsTaskDetails{TaskArn: t.TaskArn, Containers: make([]batch.AttemptTaskContainerDetails, 0, len(t.Containers))}
	for i := range t.Containers {
		c := &t.Containers[i]
		r := results[c.Name]
		c.ExitCode, c.Reason = r.ExitCode, truncateReason(r.Reason)
		c.LogStreamName = events.LogContainerSubject(jobID, f.Attempt, c.Name)
		at.Containers = append(at.Containers, batch.AttemptTaskContainerDetails{
			Name: c.Name, ExitCode: c.ExitCode, Reason: c.Reason, LogStreamName: c.LogStreamName,
		})
	}
	return []batch.AttemptEcsTaskDetails{at}
}

// truncateReason keeps a container reason within AWS's 255 characters.
func truncateReason(s string) string {
	if len(s) > 255 {
		return s[:255]
	}
	return s
}
