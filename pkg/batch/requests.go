package batch

import "encoding/json"

// The request and response bodies of the supported operations, shared by the
// HTTP API, the NATS API and batchctl.

// SubmitJobInput is the SubmitJob request.
type SubmitJobInput struct {
	JobName                    string              `json:"jobName"`
	JobQueue                   string              `json:"jobQueue"`
	JobDefinition              string              `json:"jobDefinition"`
	ShareIdentifier            string              `json:"shareIdentifier,omitempty"`
	SchedulingPriorityOverride *int                `json:"schedulingPriorityOverride,omitempty"`
	ArrayProperties            *ArrayProperties    `json:"arrayProperties,omitempty"`
	DependsOn                  []JobDependency     `json:"dependsOn,omitempty"`
	Parameters                 map[string]string   `json:"parameters,omitempty"`
	ContainerOverrides         *ContainerOverrides `json:"containerOverrides,omitempty"`
	RetryStrategy              *RetryStrategy      `json:"retryStrategy,omitempty"`
	PropagateTags              bool                `json:"propagateTags,omitempty"`
	Timeout                    *JobTimeout         `json:"timeout,omitempty"`
	Tags                       map[string]string   `json:"tags,omitempty"`

	// ConsumableResourcePropertiesOverride changes the definition's
	// consumable resources, per resource.
	ConsumableResourcePropertiesOverride *ConsumableResourceProperties `json:"consumableResourcePropertiesOverride,omitempty"`

	// Additions. ClientToken makes the submit idempotent: a submit with
	// the token of an existing job returns that job. JobStateTimeLimitActions
	// are time limits on the job's PENDING and RUNNABLE states.
	ClientToken              string                    `json:"clientToken,omitempty"`
	JobStateTimeLimitActions []JobStateTimeLimitAction `json:"jobStateTimeLimitActions,omitempty"`

	NodeOverrides         json.RawMessage `json:"nodeOverrides,omitempty"`
	EksPropertiesOverride json.RawMessage `json:"eksPropertiesOverride,omitempty"`
	EcsPropertiesOverride json.RawMessage `json:"ecsPropertiesOverride,omitempty"`
}

// ArrayProperties asks for an array job of Size children.
type ArrayProperties struct {
	Size int `json:"size,omitempty"`
	// MaxRunningJobs is an addition: at most this many children run at
	// once (0: no limit).
	MaxRunningJobs int `json:"maxRunningJobs,omitempty"`
}

// SubmitJobOutput is the SubmitJob answer.
type SubmitJobOutput struct {
	JobArn  string `json:"jobArn"`
	JobName string `json:"jobName"`
	JobID   string `json:"jobId"`
}

// CancelJobInput is the CancelJob request.
type CancelJobInput struct {
	JobID  string `json:"jobId"`
	Reason string `json:"reason"`
}

// CancelJobOutput is the (empty) CancelJob answer.
type CancelJobOutput struct{}

// TerminateJobInput is the TerminateJob request.
type TerminateJobInput struct {
	JobID  string `json:"jobId"`
	Reason string `json:"reason"`
}

// TerminateJobOutput is the (empty) TerminateJob answer.
type TerminateJobOutput struct{}

// DescribeJobsInput is the DescribeJobs request.
type DescribeJobsInput struct {
	Jobs []string `json:"jobs"`
}

// DescribeJobsOutput is the DescribeJobs answer.
type DescribeJobsOutput struct {
	Jobs []JobDetail `json:"jobs"`
}

// KeyValuesPair is a ListJobs filter.
type KeyValuesPair struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

// ListJobsInput is the ListJobs request.
type ListJobsInput struct {
	JobQueue       string          `json:"jobQueue,omitempty"`
	ArrayJobID     string          `json:"arrayJobId,omitempty"`
	MultiNodeJobID string          `json:"multiNodeJobId,omitempty"`
	JobStatus      JobStatus       `json:"jobStatus,omitempty"`
	MaxResults     int             `json:"maxResults,omitempty"`
	NextToken      string          `json:"nextToken,omitempty"`
	Filters        []KeyValuesPair `json:"filters,omitempty"`
}

// ListJobsOutput is the ListJobs answer.
type ListJobsOutput struct {
	JobSummaryList []JobSummary `json:"jobSummaryList"`
	NextToken      string       `json:"nextToken,omitempty"`
}

// RegisterJobDefinitionInput is the RegisterJobDefinition request.
type RegisterJobDefinitionInput struct {
	JobDefinitionName    string               `json:"jobDefinitionName"`
	Type                 string               `json:"type"`
	Parameters           map[string]string    `json:"parameters,omitempty"`
	SchedulingPriority   *int                 `json:"schedulingPriority,omitempty"`
	ContainerProperties  *ContainerProperties `json:"containerProperties,omitempty"`
	RetryStrategy        *RetryStrategy       `json:"retryStrategy,omitempty"`
	PropagateTags        bool                 `json:"propagateTags,omitempty"`
	Timeout              *JobTimeout          `json:"timeout,omitempty"`
	Tags                 map[string]string    `json:"tags,omitempty"`
	PlatformCapabilities []string             `json:"platformCapabilities,omitempty"`

	ConsumableResourceProperties *ConsumableResourceProperties `json:"consumableResourceProperties,omitempty"`

	NodeProperties json.RawMessage `json:"nodeProperties,omitempty"`
	EcsProperties  json.RawMessage `json:"ecsProperties,omitempty"`
	EksProperties  json.RawMessage `json:"eksProperties,omitempty"`
}

// RegisterJobDefinitionOutput is the RegisterJobDefinition answer.
type RegisterJobDefinitionOutput struct {
	JobDefinitionName string `json:"jobDefinitionName"`
	JobDefinitionArn  string `json:"jobDefinitionArn"`
	Revision          int    `json:"revision"`
}

// DescribeJobDefinitionsInput is the DescribeJobDefinitions request.
type DescribeJobDefinitionsInput struct {
	JobDefinitions    []string `json:"jobDefinitions,omitempty"`
	MaxResults        int      `json:"maxResults,omitempty"`
	JobDefinitionName string   `json:"jobDefinitionName,omitempty"`
	Status            string   `json:"status,omitempty"`
	NextToken         string   `json:"nextToken,omitempty"`
}

// DescribeJobDefinitionsOutput is the DescribeJobDefinitions answer.
type DescribeJobDefinitionsOutput struct {
	JobDefinitions []JobDefinition `json:"jobDefinitions"`
	NextToken      string          `json:"nextToken,omitempty"`
}

// CreateComputeEnvironmentInput is the CreateComputeEnvironment request.
type CreateComputeEnvironmentInput struct {
	ComputeEnvironmentName string            `json:"computeEnvironmentName"`
	Type                   string            `json:"type"`
	State                  string            `json:"state,omitempty"`
	UnmanagedvCpus         *int              `json:"unmanagedvCpus,omitempty"`
	ComputeResources       *ComputeResource  `json:"computeResources,omitempty"`
	ServiceRole            string            `json:"serviceRole,omitempty"`
	Tags                   map[string]string `json:"tags,omitempty"`
	EksConfiguration       json.RawMessage   `json:"eksConfiguration,omitempty"`
	Context                string            `json:"context,omitempty"`
}

// ComputeEnvironmentRef names a created or updated environment.
type ComputeEnvironmentRef struct {
	ComputeEnvironmentName string `json:"computeEnvironmentName"`
	ComputeEnvironmentArn  string `json:"computeEnvironmentArn"`
}

// ComputeResourceUpdate is the computeResources part of an update.
type ComputeResourceUpdate struct {
	MinvCpus           *int            `json:"minvCpus,omitempty"`
	MaxvCpus           *int            `json:"maxvCpus,omitempty"`
	DesiredvCpus       *int            `json:"desiredvCpus,omitempty"`
	Subnets            []string        `json:"subnets,omitempty"`
	SecurityGroupIDs   []string        `json:"securityGroupIds,omitempty"`
	AllocationStrategy string          `json:"allocationStrategy,omitempty"`
	InstanceTypes      []string        `json:"instanceTypes,omitempty"`
	Other              json.RawMessage `json:"-"`
}

// UpdateComputeEnvironmentInput is the UpdateComputeEnvironment request.
type UpdateComputeEnvironmentInput struct {
	ComputeEnvironment string                 `json:"computeEnvironment"`
	State              string                 `json:"state,omitempty"`
	UnmanagedvCpus     *int                   `json:"unmanagedvCpus,omitempty"`
	ComputeResources   *ComputeResourceUpdate `json:"computeResources,omitempty"`
	ServiceRole        string                 `json:"serviceRole,omitempty"`
	UpdatePolicy       json.RawMessage        `json:"updatePolicy,omitempty"`
	Context            string                 `json:"context,omitempty"`
}

// DescribeComputeEnvironmentsInput is the DescribeComputeEnvironments request.
type DescribeComputeEnvironmentsInput struct {
	ComputeEnvironments []string `json:"computeEnvironments,omitempty"`
	MaxResults          int      `json:"maxResults,omitempty"`
	NextToken           string   `json:"nextToken,omitempty"`
}

// DescribeComputeEnvironmentsOutput is the DescribeComputeEnvironments answer.
type DescribeComputeEnvironmentsOutput struct {
	ComputeEnvironments []ComputeEnvironmentDetail `json:"computeEnvironments"`
	NextToken           string                     `json:"nextToken,omitempty"`
}

// CreateJobQueueInput is the CreateJobQueue request.
type CreateJobQueueInput struct {
	JobQueueName             string                    `json:"jobQueueName"`
	State                    string                    `json:"state,omitempty"`
	SchedulingPolicyArn      string                    `json:"schedulingPolicyArn,omitempty"`
	Priority                 *int                      `json:"priority"`
	ComputeEnvironmentOrder  []ComputeEnvironmentOrder `json:"computeEnvironmentOrder,omitempty"`
	JobQueueType             string                    `json:"jobQueueType,omitempty"`
	Tags                     map[string]string         `json:"tags,omitempty"`
	JobStateTimeLimitActions json.RawMessage           `json:"jobStateTimeLimitActions,omitempty"`
	ServiceEnvironmentOrder  json.RawMessage           `json:"serviceEnvironmentOrder,omitempty"`
	// MaxRunningJobs is an addition: at most this many jobs of the queue
	// run at once (0 or absent: no limit).
	MaxRunningJobs *int `json:"maxRunningJobs,omitempty"`
}

// JobQueueRef names a created or updated queue.
type JobQueueRef struct {
	JobQueueName string `json:"jobQueueName"`
	JobQueueArn  string `json:"jobQueueArn"`
}

// UpdateJobQueueInput is the UpdateJobQueue request.
type UpdateJobQueueInput struct {
	JobQueue                 string                    `json:"jobQueue"`
	State                    string                    `json:"state,omitempty"`
	SchedulingPolicyArn      string                    `json:"schedulingPolicyArn,omitempty"`
	Priority                 *int                      `json:"priority,omitempty"`
	ComputeEnvironmentOrder  []ComputeEnvironmentOrder `json:"computeEnvironmentOrder,omitempty"`
	JobStateTimeLimitActions json.RawMessage           `json:"jobStateTimeLimitActions,omitempty"`
	ServiceEnvironmentOrder  json.RawMessage           `json:"serviceEnvironmentOrder,omitempty"`
	// MaxRunningJobs is an addition: the queue's new limit of running jobs
	// (0: no limit; absent: unchanged).
	MaxRunningJobs *int `json:"maxRunningJobs,omitempty"`
}

// DescribeJobQueuesInput is the DescribeJobQueues request.
type DescribeJobQueuesInput struct {
	JobQueues  []string `json:"jobQueues,omitempty"`
	MaxResults int      `json:"maxResults,omitempty"`
	NextToken  string   `json:"nextToken,omitempty"`
}

// DescribeJobQueuesOutput is the DescribeJobQueues answer.
type DescribeJobQueuesOutput struct {
	JobQueues []JobQueueDetail `json:"jobQueues"`
	NextToken string           `json:"nextToken,omitempty"`
}

// ErrorBody is the body of an error answer, on HTTP and on NATS.
type ErrorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

// Error types.
const (
	ClientException = "ClientException"
	ServerException = "ServerException"
)
