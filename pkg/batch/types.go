// Package batch holds the AWS Batch resource shapes exactly as they travel on
// the wire: camelCase JSON, epoch-millisecond times, ARNs. The HTTP API, the
// NATS API, the job record in JetStream and the event detail all use these
// types, so an AWS SDK, a NATS client in any language and the services read
// one format. Only the standard library is imported here.
//
// Fields this system accepts and keeps but does not act on (Fargate network
// and storage settings, ...) are held as raw JSON so that they round-trip
// unchanged; docs/api.md lists them.
package batch

import "encoding/json"

// JobStatus is the AWS Batch job status.
type JobStatus string

// The job statuses, in lifecycle order.
const (
	StatusSubmitted JobStatus = "SUBMITTED"
	StatusPending   JobStatus = "PENDING"
	StatusRunnable  JobStatus = "RUNNABLE"
	StatusStarting  JobStatus = "STARTING"
	StatusRunning   JobStatus = "RUNNING"
	StatusSucceeded JobStatus = "SUCCEEDED"
	StatusFailed    JobStatus = "FAILED"
)

// AllStatuses lists every job status in lifecycle order.
var AllStatuses = []JobStatus{StatusSubmitted, StatusPending, StatusRunnable, StatusStarting, StatusRunning, StatusSucceeded, StatusFailed}

// Final reports whether the status is terminal.
func (s JobStatus) Final() bool { return s == StatusSucceeded || s == StatusFailed }

// Valid reports whether s is one of the seven AWS statuses.
func (s JobStatus) Valid() bool {
	for _, v := range AllStatuses {
		if v == s {
			return true
		}
	}
	return false
}

// KeyValuePair is an environment variable.
type KeyValuePair struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ResourceRequirement is one of VCPU, MEMORY or GPU with a string value.
type ResourceRequirement struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Resource requirement types.
const (
	ResourceVCPU   = "VCPU"
	ResourceMemory = "MEMORY"
	ResourceGPU    = "GPU"
)

// EvaluateOnExit is one retry condition.
type EvaluateOnExit struct {
	OnStatusReason string `json:"onStatusReason,omitempty"`
	OnReason       string `json:"onReason,omitempty"`
	OnExitCode     string `json:"onExitCode,omitempty"`
	Action         string `json:"action"`
}

// RetryStrategy says how many attempts a job gets and when to stop early.
type RetryStrategy struct {
	Attempts       int              `json:"attempts,omitempty"`
	EvaluateOnExit []EvaluateOnExit `json:"evaluateOnExit,omitempty"`
}

// JobTimeout is the per-attempt time limit.
type JobTimeout struct {
	AttemptDurationSeconds int `json:"attemptDurationSeconds,omitempty"`
}

// JobDependency names a job this one waits for.
type JobDependency struct {
	JobID string `json:"jobId,omitempty"`
	Type  string `json:"type,omitempty"`
	// Condition is an addition: ConditionSucceeded (default) or
	// ConditionAny.
	Condition string `json:"condition,omitempty"`
}

// ContainerProperties is the container part of a job definition.
type ContainerProperties struct {
	Image                  string                `json:"image,omitempty"`
	Vcpus                  int                   `json:"vcpus,omitempty"`
	Memory                 int                   `json:"memory,omitempty"`
	Command                []string              `json:"command,omitempty"`
	JobRoleArn             string                `json:"jobRoleArn,omitempty"`
	ExecutionRoleArn       string                `json:"executionRoleArn,omitempty"`
	Environment            []KeyValuePair        `json:"environment,omitempty"`
	ReadonlyRootFilesystem bool                  `json:"readonlyRootFilesystem,omitempty"`
	Privileged             bool                  `json:"privileged,omitempty"`
	User                   string                `json:"user,omitempty"`
	InstanceType           string                `json:"instanceType,omitempty"`
	ResourceRequirements   []ResourceRequirement `json:"resourceRequirements,omitempty"`
	EnableExecuteCommand   bool                  `json:"enableExecuteCommand,omitempty"`

	// The container settings (container.go); docs/api.md says which act.
	Volumes          []Volume          `json:"volumes,omitempty"`
	MountPoints      []MountPoint      `json:"mountPoints,omitempty"`
	Ulimits          []Ulimit          `json:"ulimits,omitempty"`
	LinuxParameters  *LinuxParameters  `json:"linuxParameters,omitempty"`
	LogConfiguration *LogConfiguration `json:"logConfiguration,omitempty"`
	Secrets          []Secret          `json:"secrets,omitempty"`
	RuntimePlatform  *RuntimePlatform  `json:"runtimePlatform,omitempty"`

	// Accepted and kept, not acted on (Fargate and IAM settings).
	NetworkConfiguration         json.RawMessage `json:"networkConfiguration,omitempty"`
	FargatePlatformConfiguration json.RawMessage `json:"fargatePlatformConfiguration,omitempty"`
	EphemeralStorage             json.RawMessage `json:"ephemeralStorage,omitempty"`
	RepositoryCredentials        json.RawMessage `json:"repositoryCredentials,omitempty"`
}

// ContainerOverrides are the submit-time changes to the container.
type ContainerOverrides struct {
	// Image is an addition: it replaces the definition's image.
	Image                string                `json:"image,omitempty"`
	Vcpus                int                   `json:"vcpus,omitempty"`
	Memory               int                   `json:"memory,omitempty"`
	Command              []string              `json:"command,omitempty"`
	InstanceType         string                `json:"instanceType,omitempty"`
	Environment          []KeyValuePair        `json:"environment,omitempty"`
	ResourceRequirements []ResourceRequirement `json:"resourceRequirements,omitempty"`
}

// JobDefinition is one revision of a job definition.
type JobDefinition struct {
	JobDefinitionName    string               `json:"jobDefinitionName"`
	JobDefinitionArn     string               `json:"jobDefinitionArn"`
	Revision             int                  `json:"revision"`
	Status               string               `json:"status,omitempty"`
	Type                 string               `json:"type"`
	SchedulingPriority   *int                 `json:"schedulingPriority,omitempty"`
	Parameters           map[string]string    `json:"parameters,omitempty"`
	RetryStrategy        *RetryStrategy       `json:"retryStrategy,omitempty"`
	ContainerProperties  *ContainerProperties `json:"containerProperties,omitempty"`
	Timeout              *JobTimeout          `json:"timeout,omitempty"`
	Tags                 map[string]string    `json:"tags,omitempty"`
	PropagateTags        bool                 `json:"propagateTags,omitempty"`
	PlatformCapabilities []string             `json:"platformCapabilities,omitempty"`
	ContainerOrchType    string               `json:"containerOrchestrationType,omitempty"`

	// ConsumableResourceProperties are the consumable resources every job
	// of the definition needs.
	ConsumableResourceProperties *ConsumableResourceProperties `json:"consumableResourceProperties,omitempty"`

	// Accepted and kept; jobs using them are refused at submit for now.
	NodeProperties json.RawMessage `json:"nodeProperties,omitempty"`
	EcsProperties  json.RawMessage `json:"ecsProperties,omitempty"`
	EksProperties  json.RawMessage `json:"eksProperties,omitempty"`
}

// AttemptContainerDetail is the container result of one attempt.
type AttemptContainerDetail struct {
	ContainerInstanceArn string `json:"containerInstanceArn,omitempty"`
	TaskArn              string `json:"taskArn,omitempty"`
	ExitCode             *int   `json:"exitCode,omitempty"`
	Reason               string `json:"reason,omitempty"`
	LogStreamName        string `json:"logStreamName,omitempty"`
	// PullStartedAt and PullStoppedAt are additions: when the attempt's
	// image was pulled (epoch ms; absent when it was present on the host).
	PullStartedAt int64 `json:"pullStartedAt,omitempty"`
	PullStoppedAt int64 `json:"pullStoppedAt,omitempty"`
}

// AttemptDetail is one attempt of a job.
type AttemptDetail struct {
	Container    *AttemptContainerDetail `json:"container,omitempty"`
	StartedAt    int64                   `json:"startedAt,omitempty"`
	StoppedAt    int64                   `json:"stoppedAt,omitempty"`
	StatusReason string                  `json:"statusReason,omitempty"`
	// TaskProperties is a multi-container job's result per container.
	TaskProperties []AttemptEcsTaskDetails `json:"taskProperties,omitempty"`
}

// ContainerDetail is the resolved container of a job plus its latest result.
type ContainerDetail struct {
	Image                  string                `json:"image,omitempty"`
	Vcpus                  int                   `json:"vcpus,omitempty"`
	Memory                 int                   `json:"memory,omitempty"`
	Command                []string              `json:"command,omitempty"`
	JobRoleArn             string                `json:"jobRoleArn,omitempty"`
	ExecutionRoleArn       string                `json:"executionRoleArn,omitempty"`
	Environment            []KeyValuePair        `json:"environment,omitempty"`
	ReadonlyRootFilesystem bool                  `json:"readonlyRootFilesystem,omitempty"`
	Privileged             bool                  `json:"privileged,omitempty"`
	User                   string                `json:"user,omitempty"`
	ExitCode               *int                  `json:"exitCode,omitempty"`
	Reason                 string                `json:"reason,omitempty"`
	ContainerInstanceArn   string                `json:"containerInstanceArn,omitempty"`
	TaskArn                string                `json:"taskArn,omitempty"`
	LogStreamName          string                `json:"logStreamName,omitempty"`
	ResourceRequirements   []ResourceRequirement `json:"resourceRequirements,omitempty"`
	// PullStartedAt and PullStoppedAt are additions: the image pull of the
	// latest attempt, as on its AttemptContainerDetail.
	PullStartedAt int64 `json:"pullStartedAt,omitempty"`
	PullStoppedAt int64 `json:"pullStoppedAt,omitempty"`

	// NetworkInterfaces is set on the nodes of a multi-node job: the
	// address of the node's host.
	NetworkInterfaces []NetworkInterface `json:"networkInterfaces,omitempty"`

	// The container settings (container.go).
	Volumes          []Volume          `json:"volumes,omitempty"`
	MountPoints      []MountPoint      `json:"mountPoints,omitempty"`
	Ulimits          []Ulimit          `json:"ulimits,omitempty"`
	LinuxParameters  *LinuxParameters  `json:"linuxParameters,omitempty"`
	LogConfiguration *LogConfiguration `json:"logConfiguration,omitempty"`
	Secrets          []Secret          `json:"secrets,omitempty"`
	RuntimePlatform  *RuntimePlatform  `json:"runtimePlatform,omitempty"`

	// Accepted and kept, not acted on (Fargate and IAM settings).
	NetworkConfiguration         json.RawMessage `json:"networkConfiguration,omitempty"`
	FargatePlatformConfiguration json.RawMessage `json:"fargatePlatformConfiguration,omitempty"`
	EphemeralStorage             json.RawMessage `json:"ephemeralStorage,omitempty"`
	RepositoryCredentials        json.RawMessage `json:"repositoryCredentials,omitempty"`
}

// ArrayPropertiesDetail describes an array parent (size, statusSummary) or a
// child (index).
type ArrayPropertiesDetail struct {
	StatusSummary              map[string]int `json:"statusSummary,omitempty"`
	StatusSummaryLastUpdatedAt int64          `json:"statusSummaryLastUpdatedAt,omitempty"`
	Size                       int            `json:"size,omitempty"`
	Index                      *int           `json:"index,omitempty"`
	// MaxRunningJobs is an addition: at most this many children of the
	// array run at once (0: no limit). Set on the parent and every child.
	MaxRunningJobs int `json:"maxRunningJobs,omitempty"`
}

// JobDetail is a job as DescribeJobs returns it. The fields after the AWS
// ones are this system's additions; AWS clients ignore unknown fields.
type JobDetail struct {
	JobArn               string                 `json:"jobArn"`
	JobName              string                 `json:"jobName"`
	JobID                string                 `json:"jobId"`
	JobQueue             string                 `json:"jobQueue"`
	Status               JobStatus              `json:"status"`
	ShareIdentifier      string                 `json:"shareIdentifier,omitempty"`
	SchedulingPriority   *int                   `json:"schedulingPriority,omitempty"`
	Attempts             []AttemptDetail        `json:"attempts"`
	StatusReason         string                 `json:"statusReason,omitempty"`
	CreatedAt            int64                  `json:"createdAt,omitempty"`
	RetryStrategy        *RetryStrategy         `json:"retryStrategy,omitempty"`
	StartedAt            int64                  `json:"startedAt,omitempty"`
	StoppedAt            int64                  `json:"stoppedAt,omitempty"`
	DependsOn            []JobDependency        `json:"dependsOn"`
	JobDefinition        string                 `json:"jobDefinition"`
	Parameters           map[string]string      `json:"parameters,omitempty"`
	Container            *ContainerDetail       `json:"container,omitempty"`
	EcsProperties        *EcsPropertiesDetail   `json:"ecsProperties,omitempty"`
	ArrayProperties      *ArrayPropertiesDetail `json:"arrayProperties,omitempty"`
	Timeout              *JobTimeout            `json:"timeout,omitempty"`
	Tags                 map[string]string      `json:"tags,omitempty"`
	PropagateTags        bool                   `json:"propagateTags,omitempty"`
	PlatformCapabilities []string               `json:"platformCapabilities"`
	IsCancelled          bool                   `json:"isCancelled,omitempty"`
	IsTerminated         bool                   `json:"isTerminated,omitempty"`

	ConsumableResourceProperties *ConsumableResourceProperties `json:"consumableResourceProperties,omitempty"`

	// NodeProperties is set on a multi-node job, NodeDetails on each of
	// its nodes (multinode.go).
	NodeProperties *NodeProperties `json:"nodeProperties,omitempty"`
	NodeDetails    *NodeDetails    `json:"nodeDetails,omitempty"`

	// Additions (not in the AWS model).
	// JobStateTimeLimitActions are the job's own time limits in
	// SUBMITTED-to-RUNNABLE states (see JobStateTimeLimitAction).
	JobStateTimeLimitActions []JobStateTimeLimitAction `json:"jobStateTimeLimitActions,omitempty"`
	// StatusChangedAt is when the job entered its current status.
	StatusChangedAt int64 `json:"statusChangedAt,omitempty"`
	// ClientToken is the idempotency token the job was submitted with.
	ClientToken            string `json:"clientToken,omitempty"`
	JobQueueName           string `json:"jobQueueName,omitempty"`
	ComputeEnvironmentName string `json:"computeEnvironmentName,omitempty"`
	HostID                 string `json:"hostId,omitempty"`
	// TraceID is the job's OpenTelemetry trace: every span of the job,
	// in every service, belongs to it.
	TraceID string `json:"traceId,omitempty"`
	// TraceParent is the W3C traceparent of the SubmitJob request's span:
	// services that act on the record rather than on a message (the
	// scheduler) continue the trace from it.
	TraceParent string `json:"traceParent,omitempty"`
	// Seq orders jobs in their queue: the JetStream sequence of the submit.
	Seq uint64 `json:"seq,omitempty"`
	// ContainerOverrides are the containerOverrides of the SubmitJob
	// request, as given (Container is the result of applying them), so
	// that the job can be shown and submitted again as it was.
	ContainerOverrides *ContainerOverrides `json:"containerOverrides,omitempty"`
}

// ContainerSummary is the short container result in a JobSummary.
type ContainerSummary struct {
	ExitCode *int   `json:"exitCode,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// ArrayPropertiesSummary is the array part of a JobSummary.
type ArrayPropertiesSummary struct {
	Size  int  `json:"size,omitempty"`
	Index *int `json:"index,omitempty"`
}

// JobSummary is one ListJobs entry.
type JobSummary struct {
	JobArn          string                  `json:"jobArn"`
	JobID           string                  `json:"jobId"`
	JobName         string                  `json:"jobName"`
	CreatedAt       int64                   `json:"createdAt,omitempty"`
	ShareIdentifier string                  `json:"shareIdentifier,omitempty"`
	Status          JobStatus               `json:"status"`
	StatusReason    string                  `json:"statusReason,omitempty"`
	StartedAt       int64                   `json:"startedAt,omitempty"`
	StoppedAt       int64                   `json:"stoppedAt,omitempty"`
	Container       *ContainerSummary       `json:"container,omitempty"`
	ArrayProperties *ArrayPropertiesSummary `json:"arrayProperties,omitempty"`
	JobDefinition   string                  `json:"jobDefinition,omitempty"`

	NodeProperties *NodePropertiesSummary `json:"nodeProperties,omitempty"`
}

// Summary derives the ListJobs entry of a job.
func (j *JobDetail) Summary() JobSummary {
	s := JobSummary{
		JobArn: j.JobArn, JobID: j.JobID, JobName: j.JobName, CreatedAt: j.CreatedAt,
		ShareIdentifier: j.ShareIdentifier, Status: j.Status, StatusReason: j.StatusReason,
		StartedAt: j.StartedAt, StoppedAt: j.StoppedAt, JobDefinition: j.JobDefinition,
	}
	if c := j.Container; c != nil && (c.ExitCode != nil || c.Reason != "") {
		s.Container = &ContainerSummary{ExitCode: c.ExitCode, Reason: c.Reason}
	}
	if a := j.ArrayProperties; a != nil {
		s.ArrayProperties = &ArrayPropertiesSummary{Size: a.Size, Index: a.Index}
	}
	switch {
	case j.NodeDetails != nil:
		i := j.NodeDetails.NodeIndex
		s.NodeProperties = &NodePropertiesSummary{IsMainNode: j.NodeDetails.IsMainNode, NodeIndex: &i}
	case j.NodeProperties != nil:
		s.NodeProperties = &NodePropertiesSummary{NumNodes: j.NodeProperties.NumNodes}
	}
	return s
}

// ComputeEnvironmentOrder is one entry of a queue's environment list.
type ComputeEnvironmentOrder struct {
	Order              int    `json:"order"`
	ComputeEnvironment string `json:"computeEnvironment"`
}

// JobQueueDetail is a job queue.
type JobQueueDetail struct {
	JobQueueName             string                    `json:"jobQueueName"`
	JobQueueArn              string                    `json:"jobQueueArn"`
	State                    string                    `json:"state"`
	SchedulingPolicyArn      string                    `json:"schedulingPolicyArn,omitempty"`
	Status                   string                    `json:"status,omitempty"`
	StatusReason             string                    `json:"statusReason,omitempty"`
	Priority                 int                       `json:"priority"`
	ComputeEnvironmentOrder  []ComputeEnvironmentOrder `json:"computeEnvironmentOrder"`
	JobQueueType             string                    `json:"jobQueueType,omitempty"`
	Tags                     map[string]string         `json:"tags,omitempty"`
	JobStateTimeLimitActions json.RawMessage           `json:"jobStateTimeLimitActions,omitempty"`

	// MaxRunningJobs is an addition: at most this many jobs of the queue
	// run at once (0: no limit).
	MaxRunningJobs int `json:"maxRunningJobs,omitempty"`
}

// ComputeResource is the managed capacity of an environment. maxvCpus is the
// capacity cap; the EC2/Fargate fields are accepted and kept.
type ComputeResource struct {
	Type               string            `json:"type"`
	AllocationStrategy string            `json:"allocationStrategy,omitempty"`
	MinvCpus           *int              `json:"minvCpus,omitempty"`
	MaxvCpus           int               `json:"maxvCpus"`
	DesiredvCpus       *int              `json:"desiredvCpus,omitempty"`
	InstanceTypes      []string          `json:"instanceTypes,omitempty"`
	ImageID            string            `json:"imageId,omitempty"`
	Subnets            []string          `json:"subnets,omitempty"`
	SecurityGroupIDs   []string          `json:"securityGroupIds,omitempty"`
	Ec2KeyPair         string            `json:"ec2KeyPair,omitempty"`
	InstanceRole       string            `json:"instanceRole,omitempty"`
	Tags               map[string]string `json:"tags,omitempty"`
	PlacementGroup     string            `json:"placementGroup,omitempty"`
	BidPercentage      *int              `json:"bidPercentage,omitempty"`
	SpotIamFleetRole   string            `json:"spotIamFleetRole,omitempty"`
	LaunchTemplate     json.RawMessage   `json:"launchTemplate,omitempty"`
	Ec2Configuration   json.RawMessage   `json:"ec2Configuration,omitempty"`
	ScalingPolicy      json.RawMessage   `json:"scalingPolicy,omitempty"`
}

// ComputeEnvironmentDetail is a compute environment.
type ComputeEnvironmentDetail struct {
	ComputeEnvironmentName     string            `json:"computeEnvironmentName"`
	ComputeEnvironmentArn      string            `json:"computeEnvironmentArn"`
	UnmanagedvCpus             *int              `json:"unmanagedvCpus,omitempty"`
	EcsClusterArn              string            `json:"ecsClusterArn,omitempty"`
	Tags                       map[string]string `json:"tags,omitempty"`
	Type                       string            `json:"type"`
	State                      string            `json:"state"`
	Status                     string            `json:"status"`
	StatusReason               string            `json:"statusReason,omitempty"`
	ComputeResources           *ComputeResource  `json:"computeResources,omitempty"`
	ServiceRole                string            `json:"serviceRole,omitempty"`
	UpdatePolicy               json.RawMessage   `json:"updatePolicy,omitempty"`
	EksConfiguration           json.RawMessage   `json:"eksConfiguration,omitempty"`
	ContainerOrchestrationType string            `json:"containerOrchestrationType,omitempty"`
	UUID                       string            `json:"uuid,omitempty"`
	Context                    string            `json:"context,omitempty"`
}

// Capacity returns the environment's vCPU cap: maxvCpus for managed
// environments, unmanagedvCpus (or unlimited, 0) for unmanaged ones.
func (ce *ComputeEnvironmentDetail) Capacity() float64 {
	if ce.ComputeResources != nil {
		return float64(ce.ComputeResources.MaxvCpus)
	}
	if ce.UnmanagedvCpus != nil {
		return float64(*ce.UnmanagedvCpus)
	}
	return 0
}
