package batch

import (
	"encoding/json"
	"fmt"
)

// Multi-container jobs (ecsProperties): the definition's task, the
// submit-time overrides and the task as the job record shows it. A job has
// one task (taskProperties[0]) of up to MaxTaskContainers containers, run
// together on one host in one Podman pod.

// MaxTaskContainers is how many containers one task may have.
const MaxTaskContainers = 10

// Dependency conditions of TaskContainerDependency.
const (
	DependStart    = "START"
	DependComplete = "COMPLETE"
	DependSuccess  = "SUCCESS"
)

// DefaultStopTimeout is the seconds between SIGTERM and SIGKILL when a
// task's container is stopped and it sets no stopTimeout.
const DefaultStopTimeout = 30

// TaskContainerDependency makes a container wait for another one of its
// task: START (it has started), COMPLETE (it has exited) or SUCCESS (it has
// exited 0).
type TaskContainerDependency struct {
	ContainerName string `json:"containerName,omitempty"`
	Condition     string `json:"condition,omitempty"`
}

// TaskContainerProperties is one container of a task.
type TaskContainerProperties struct {
	Name                   string                    `json:"name,omitempty"`
	Image                  string                    `json:"image"`
	Command                []string                  `json:"command,omitempty"`
	DependsOn              []TaskContainerDependency `json:"dependsOn,omitempty"`
	Environment            []KeyValuePair            `json:"environment,omitempty"`
	Essential              *bool                     `json:"essential,omitempty"`
	MountPoints            []MountPoint              `json:"mountPoints,omitempty"`
	Privileged             bool                      `json:"privileged,omitempty"`
	ReadonlyRootFilesystem bool                      `json:"readonlyRootFilesystem,omitempty"`
	ResourceRequirements   []ResourceRequirement     `json:"resourceRequirements,omitempty"`
	User                   string                    `json:"user,omitempty"`
	StartTimeout           *int                      `json:"startTimeout,omitempty"`
	StopTimeout            *int                      `json:"stopTimeout,omitempty"`

	// The container settings, as for containerProperties (container.go).
	Ulimits          []Ulimit          `json:"ulimits,omitempty"`
	LinuxParameters  *LinuxParameters  `json:"linuxParameters,omitempty"`
	LogConfiguration *LogConfiguration `json:"logConfiguration,omitempty"`
	Secrets          []Secret          `json:"secrets,omitempty"`

	// Accepted and kept, not acted on.
	FirelensConfiguration json.RawMessage `json:"firelensConfiguration,omitempty"`
	RepositoryCredentials json.RawMessage `json:"repositoryCredentials,omitempty"`
}

// IsEssential reports whether the container is essential (the default).
func (c *TaskContainerProperties) IsEssential() bool { return c.Essential == nil || *c.Essential }

// StopTimeoutSeconds is the container's stop grace period.
func (c *TaskContainerProperties) StopTimeoutSeconds() int {
	if c.StopTimeout == nil || *c.StopTimeout <= 0 {
		return DefaultStopTimeout
	}
	return *c.StopTimeout
}

// EcsTaskProperties is the task of a multi-container job definition.
type EcsTaskProperties struct {
	Containers []TaskContainerProperties `json:"containers"`
	// IpcMode is host, task or none; PidMode is host or task.
	IpcMode string   `json:"ipcMode,omitempty"`
	PidMode string   `json:"pidMode,omitempty"`
	Volumes []Volume `json:"volumes,omitempty"`

	// Accepted and kept.
	ExecutionRoleArn     string           `json:"executionRoleArn,omitempty"`
	TaskRoleArn          string           `json:"taskRoleArn,omitempty"`
	PlatformVersion      string           `json:"platformVersion,omitempty"`
	EnableExecuteCommand bool             `json:"enableExecuteCommand,omitempty"`
	EphemeralStorage     json.RawMessage  `json:"ephemeralStorage,omitempty"`
	NetworkConfiguration json.RawMessage  `json:"networkConfiguration,omitempty"`
	RuntimePlatform      *RuntimePlatform `json:"runtimePlatform,omitempty"`
}

// EcsProperties is the ecsProperties of a job definition.
type EcsProperties struct {
	TaskProperties []EcsTaskProperties `json:"taskProperties"`
}

// TaskContainerOverrides changes one container of the task at submit.
type TaskContainerOverrides struct {
	Name                 string                `json:"name,omitempty"`
	Command              []string              `json:"command,omitempty"`
	Environment          []KeyValuePair        `json:"environment,omitempty"`
	ResourceRequirements []ResourceRequirement `json:"resourceRequirements,omitempty"`
}

// TaskPropertiesOverride changes the task at submit.
type TaskPropertiesOverride struct {
	Containers []TaskContainerOverrides `json:"containers,omitempty"`
}

// EcsPropertiesOverride is SubmitJob's ecsPropertiesOverride.
type EcsPropertiesOverride struct {
	TaskProperties []TaskPropertiesOverride `json:"taskProperties,omitempty"`
}

// TaskContainerDetails is a container of a job's task: the resolved
// properties and, once an attempt ended, its result.
type TaskContainerDetails struct {
	TaskContainerProperties
	ExitCode      *int   `json:"exitCode,omitempty"`
	Reason        string `json:"reason,omitempty"`
	LogStreamName string `json:"logStreamName,omitempty"`
	// NetworkInterfaces is, on a node of a multi-node job, the address of
	// its host (as ContainerDetail's).
	NetworkInterfaces []NetworkInterface `json:"networkInterfaces,omitempty"`
}

// EcsTaskDetails is the task of a job record.
type EcsTaskDetails struct {
	Containers           []TaskContainerDetails `json:"containers"`
	ContainerInstanceArn string                 `json:"containerInstanceArn,omitempty"`
	TaskArn              string                 `json:"taskArn,omitempty"`
	IpcMode              string                 `json:"ipcMode,omitempty"`
	PidMode              string                 `json:"pidMode,omitempty"`
	Volumes              []Volume               `json:"volumes,omitempty"`
	ExecutionRoleArn     string                 `json:"executionRoleArn,omitempty"`
	TaskRoleArn          string                 `json:"taskRoleArn,omitempty"`
	PlatformVersion      string                 `json:"platformVersion,omitempty"`
	EnableExecuteCommand bool                   `json:"enableExecuteCommand,omitempty"`
	EphemeralStorage     json.RawMessage        `json:"ephemeralStorage,omitempty"`
	NetworkConfiguration json.RawMessage        `json:"networkConfiguration,omitempty"`
	RuntimePlatform      *RuntimePlatform       `json:"runtimePlatform,omitempty"`
}

// EcsPropertiesDetail is the ecsProperties of a job record.
type EcsPropertiesDetail struct {
	TaskProperties []EcsTaskDetails `json:"taskProperties"`
}

// Settings returns the container settings of one container of a task,
// with the task's volumes (mountPoints name them), for
// pkg/events.NewContainerSpec: the same path as a single container's.
func (c *TaskContainerProperties) Settings(volumes []Volume, platform *RuntimePlatform) ContainerSettings {
	r, _ := ParseResources(c.ResourceRequirements, 0, 0)
	return ContainerSettings{
		Image: c.Image, Command: c.Command, Environment: c.Environment, Resources: r, User: c.User,
		Privileged: c.Privileged, ReadonlyRootFilesystem: c.ReadonlyRootFilesystem,
		Volumes: volumes, MountPoints: c.MountPoints, Ulimits: c.Ulimits, LinuxParameters: c.LinuxParameters,
		Secrets: c.Secrets, LogConfiguration: c.LogConfiguration, RuntimePlatform: platform,
	}
}

// Settings returns the container settings of a container of the job's
// task t.
func (c *TaskContainerDetails) Settings(t *EcsTaskDetails) ContainerSettings {
	return c.TaskContainerProperties.Settings(t.Volumes, t.RuntimePlatform)
}

// Task returns the job's task (nil for a job without ecsProperties).
func (e *EcsPropertiesDetail) Task() *EcsTaskDetails {
	if e == nil || len(e.TaskProperties) == 0 {
		return nil
	}
	return &e.TaskProperties[0]
}

// AttemptTaskContainerDetails is one container's result in an attempt.
type AttemptTaskContainerDetails struct {
	Name          string `json:"name,omitempty"`
	ExitCode      *int   `json:"exitCode,omitempty"`
	Reason        string `json:"reason,omitempty"`
	LogStreamName string `json:"logStreamName,omitempty"`
}

// AttemptEcsTaskDetails is the task's result in an attempt.
type AttemptEcsTaskDetails struct {
	ContainerInstanceArn string                        `json:"containerInstanceArn,omitempty"`
	TaskArn              string                        `json:"taskArn,omitempty"`
	Containers           []AttemptTaskContainerDetails `json:"containers"`
}

// ParseEcsProperties decodes ecsProperties. Members the API model does not
// have are ignored, as for every request (AWS's restJson1 services do so).
func ParseEcsProperties(raw json.RawMessage) (*EcsProperties, error) {
	var p EcsProperties
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("ecsProperties: %w", err)
	}
	return &p, nil
}

// ParseEcsPropertiesOverride decodes ecsPropertiesOverride.
func ParseEcsPropertiesOverride(raw json.RawMessage) (*EcsPropertiesOverride, error) {
	var p EcsPropertiesOverride
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("ecsPropertiesOverride: %w", err)
	}
	return &p, nil
}

// Detail is the task as a job record holds it, before any attempt.
func (t *EcsTaskProperties) Detail() EcsTaskDetails {
	d := EcsTaskDetails{
		IpcMode: t.IpcMode, PidMode: t.PidMode, Volumes: t.Volumes, ExecutionRoleArn: t.ExecutionRoleArn,
		TaskRoleArn: t.TaskRoleArn, PlatformVersion: t.PlatformVersion, EnableExecuteCommand: t.EnableExecuteCommand,
		EphemeralStorage: t.EphemeralStorage, NetworkConfiguration: t.NetworkConfiguration, RuntimePlatform: t.RuntimePlatform,
	}
	for _, c := range t.Containers {
		d.Containers = append(d.Containers, TaskContainerDetails{TaskContainerProperties: c})
	}
	return d
}

// Properties is the inverse of Detail: the task's properties without any
// attempt's results (as a node range of a multi-node job stores it).
func (d *EcsTaskDetails) Properties() EcsTaskProperties {
	t := EcsTaskProperties{
		IpcMode: d.IpcMode, PidMode: d.PidMode, Volumes: d.Volumes, ExecutionRoleArn: d.ExecutionRoleArn,
		TaskRoleArn: d.TaskRoleArn, PlatformVersion: d.PlatformVersion, EnableExecuteCommand: d.EnableExecuteCommand,
		EphemeralStorage: d.EphemeralStorage, NetworkConfiguration: d.NetworkConfiguration, RuntimePlatform: d.RuntimePlatform,
	}
	for _, c := range d.Containers {
		t.Containers = append(t.Containers, c.TaskContainerProperties)
	}
	return t
}

// Resources returns what the task needs of a host: the sum of its
// containers' VCPU, MEMORY and GPU (they run together on one host).
func (t *EcsTaskProperties) Resources() Resources {
	var sum Resources
	for i := range t.Containers {
		r, _ := ParseResources(t.Containers[i].ResourceRequirements, 0, 0)
		sum = sum.Add(r)
	}
	return sum
}

// Resources returns what the job needs of a host: for a multi-container
// job the sum of its containers' VCPU, MEMORY and GPU (they run together on
// one host), else its container's.
func (j *JobDetail) Resources() Resources {
	if t := j.EcsProperties.Task(); t != nil {
		var sum Resources
		for i := range t.Containers {
			r, _ := ParseResources(t.Containers[i].ResourceRequirements, 0, 0)
			sum = sum.Add(r)
		}
		return sum
	}
	if j.Container != nil {
		return j.Container.Resources()
	}
	return Resources{}
}
