package batch

// The consumable resource requests. The stored shape is
// ConsumableResourceDetail (contract.go).

// UpdateConsumableResource operations.
const (
	QuantitySet    = "SET"
	QuantityAdd    = "ADD"
	QuantityRemove = "REMOVE"
)

// CreateConsumableResourceInput is the CreateConsumableResource request.
type CreateConsumableResourceInput struct {
	ConsumableResourceName string            `json:"consumableResourceName"`
	TotalQuantity          *int64            `json:"totalQuantity,omitempty"`
	ResourceType           string            `json:"resourceType,omitempty"`
	Tags                   map[string]string `json:"tags,omitempty"`
}

// ConsumableResourceRef names a created or updated resource.
type ConsumableResourceRef struct {
	ConsumableResourceName string `json:"consumableResourceName"`
	ConsumableResourceArn  string `json:"consumableResourceArn"`
	// TotalQuantity is set in the UpdateConsumableResource answer.
	TotalQuantity *int64 `json:"totalQuantity,omitempty"`
}

// ConsumableResourceInput names one resource (Describe and Delete).
type ConsumableResourceInput struct {
	ConsumableResource string `json:"consumableResource"`
}

// ListConsumableResourcesInput is the ListConsumableResources request.
type ListConsumableResourcesInput struct {
	Filters    []KeyValuesPair `json:"filters,omitempty"`
	MaxResults int             `json:"maxResults,omitempty"`
	NextToken  string          `json:"nextToken,omitempty"`
}

// ConsumableResourceSummary is one ListConsumableResources entry.
type ConsumableResourceSummary struct {
	ConsumableResourceArn  string `json:"consumableResourceArn"`
	ConsumableResourceName string `json:"consumableResourceName"`
	TotalQuantity          int64  `json:"totalQuantity"`
	InUseQuantity          int64  `json:"inUseQuantity"`
	ResourceType           string `json:"resourceType"`
}

// ListConsumableResourcesOutput is the ListConsumableResources answer.
type ListConsumableResourcesOutput struct {
	ConsumableResources []ConsumableResourceSummary `json:"consumableResources"`
	NextToken           string                      `json:"nextToken,omitempty"`
}

// UpdateConsumableResourceInput is the UpdateConsumableResource request.
type UpdateConsumableResourceInput struct {
	ConsumableResource string `json:"consumableResource"`
	Operation          string `json:"operation,omitempty"`
	Quantity           *int64 `json:"quantity,omitempty"`
	ClientToken        string `json:"clientToken,omitempty"`
}

// ListJobsByConsumableResourceInput is the ListJobsByConsumableResource
// request.
type ListJobsByConsumableResourceInput struct {
	ConsumableResource string          `json:"consumableResource"`
	Filters            []KeyValuesPair `json:"filters,omitempty"`
	MaxResults         int             `json:"maxResults,omitempty"`
	NextToken          string          `json:"nextToken,omitempty"`
}

// ConsumableResourceJobSummary is one ListJobsByConsumableResource entry.
type ConsumableResourceJobSummary struct {
	JobArn                       string                        `json:"jobArn"`
	JobQueueArn                  string                        `json:"jobQueueArn"`
	JobName                      string                        `json:"jobName"`
	JobDefinitionArn             string                        `json:"jobDefinitionArn,omitempty"`
	ShareIdentifier              string                        `json:"shareIdentifier,omitempty"`
	JobStatus                    JobStatus                     `json:"jobStatus"`
	Quantity                     int64                         `json:"quantity"`
	StatusReason                 string                        `json:"statusReason,omitempty"`
	StartedAt                    int64                         `json:"startedAt,omitempty"`
	CreatedAt                    int64                         `json:"createdAt"`
	ConsumableResourceProperties *ConsumableResourceProperties `json:"consumableResourceProperties"`
}

// ListJobsByConsumableResourceOutput is the ListJobsByConsumableResource
// answer.
type ListJobsByConsumableResourceOutput struct {
	Jobs      []ConsumableResourceJobSummary `json:"jobs"`
	NextToken string                         `json:"nextToken,omitempty"`
}
