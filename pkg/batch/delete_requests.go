package batch

// The requests that retire a resource. Their answers are empty objects.

// Empty is the answer of the operations whose output has no members
// (AWS answers them with {}).
type Empty struct{}

// DeleteComputeEnvironmentInput is the DeleteComputeEnvironment request.
type DeleteComputeEnvironmentInput struct {
	ComputeEnvironment string `json:"computeEnvironment"`
}

// DeleteJobQueueInput is the DeleteJobQueue request.
type DeleteJobQueueInput struct {
	JobQueue string `json:"jobQueue"`
}

// DeregisterJobDefinitionInput is the DeregisterJobDefinition request.
type DeregisterJobDefinitionInput struct {
	JobDefinition string `json:"jobDefinition"`
}
