package events

import (
	"maps"

	"github.com/batchd/batchd/pkg/batch"
)

// TaskSpec is the resolved task of one attempt of a multi-container job
// (ecsProperties): its containers run together in one pod on the placed
// host, sharing its network (they reach each other on 127.0.0.1), its
// volumes and, where asked, its IPC and PID namespaces.
type TaskSpec struct {
	Containers []TaskContainerSpec `json:"containers"`
	// IpcMode is "host", "task", "none" or "" (each container private);
	// PidMode is "host", "task" or "" (private).
	IpcMode string `json:"ipcMode,omitempty"`
	PidMode string `json:"pidMode,omitempty"`
	// TimeoutSeconds is the attempt duration limit, 0 for none.
	TimeoutSeconds int `json:"timeoutSeconds,omitempty"`
}

// TaskContainerSpec is one container of a task. Container holds every
// setting a single-container job has, built by the same NewContainerSpec
// (its mounts name the task's volumes; the environment includes the
// AWS_BATCH_* variables).
type TaskContainerSpec struct {
	Name      string                          `json:"name"`
	Container ContainerSpec                   `json:"container"`
	Essential bool                            `json:"essential"`
	DependsOn []batch.TaskContainerDependency `json:"dependsOn,omitempty"`
	// StopTimeoutSeconds is the grace between SIGTERM and SIGKILL when
	// the container is stopped.
	StopTimeoutSeconds int `json:"stopTimeoutSeconds"`
}

// ContainerResult is how one container of a task ended. ExitCode is nil
// for a container that never started (Reason says why).
type ContainerResult struct {
	Name        string `json:"name"`
	ContainerID string `json:"containerId,omitempty"`
	ExitCode    *int   `json:"exitCode,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// HeaderContainer on a log line of a multi-container job names the
// container that wrote it.
const HeaderContainer = "Batch-Container"

// LogContainerSubject is where the lines of one container of an attempt of
// a multi-container job go (its logStreamName).
func LogContainerSubject(jobID string, attempt int, container string) string {
	return LogSubject(jobID, attempt) + "." + container
}

// LogContainerFilter matches one container's lines of every attempt of a
// multi-container job.
func LogContainerFilter(jobID, container string) string {
	return "batch.logs." + Token(jobID) + ".*." + container
}

// TaskSpecOf is the launch order of a multi-container job's pod: each
// container through NewContainerSpec (the path of a single container),
// with vars (the AWS_BATCH_* variables) added to its environment.
func TaskSpecOf(t *batch.EcsTaskDetails, vars map[string]string, timeout int) *TaskSpec {
	spec := &TaskSpec{IpcMode: t.IpcMode, PidMode: t.PidMode, TimeoutSeconds: timeout}
	for i := range t.Containers {
		c := &t.Containers[i]
		settings := c.Settings(t)
		cs, err := NewContainerSpec(settings)
		if err != nil {
			// A record from before the api refused such settings: the
			// launcher fails the attempt with the reason.
			cs = ContainerSpec{Image: settings.Image, Refused: err.Error()}
		}
		if cs.Environment == nil {
			cs.Environment = make(map[string]string, len(vars))
		}
		maps.Copy(cs.Environment, vars)
		spec.Containers = append(spec.Containers, TaskContainerSpec{
			Name: c.Name, Container: cs, Essential: c.IsEssential(), DependsOn: c.DependsOn,
			StopTimeoutSeconds: c.StopTimeoutSeconds(),
		})
	}
	return spec
}
