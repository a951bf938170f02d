package batch

// GetJobQueueSnapshotInput is the GetJobQueueSnapshot request.
type GetJobQueueSnapshotInput struct {
	JobQueue string `json:"jobQueue"`
}

// FrontOfQueueJobSummary is one of the first RUNNABLE jobs of a queue.
type FrontOfQueueJobSummary struct {
	JobArn                 string `json:"jobArn"`
	EarliestTimeAtPosition int64  `json:"earliestTimeAtPosition,omitempty"`
}

// FrontOfQueueDetail lists the first RUNNABLE jobs of a queue in the
// order they are dispatched.
type FrontOfQueueDetail struct {
	Jobs          []FrontOfQueueJobSummary `json:"jobs"`
	LastUpdatedAt int64                    `json:"lastUpdatedAt,omitempty"`
}

// GetJobQueueSnapshotOutput is the GetJobQueueSnapshot answer.
type GetJobQueueSnapshotOutput struct {
	FrontOfQueue     *FrontOfQueueDetail `json:"frontOfQueue,omitempty"`
	QueueUtilization *QueueUtilization   `json:"queueUtilization,omitempty"`
}

// CapacityUsage is a quantity of capacity in a unit (VCPU here).
type CapacityUsage struct {
	CapacityUnit string  `json:"capacityUnit"`
	Quantity     float64 `json:"quantity"`
}

// ShareCapacityUtilization is the capacity one share of a fair-share queue
// uses.
type ShareCapacityUtilization struct {
	ShareIdentifier string          `json:"shareIdentifier"`
	CapacityUsage   []CapacityUsage `json:"capacityUsage"`
}

// FairshareUtilization is the capacity the shares of a fair-share queue
// use: how many use any, and the (at most 20) that use the most.
type FairshareUtilization struct {
	ActiveShareCount       int64                      `json:"activeShareCount"`
	TopCapacityUtilization []ShareCapacityUtilization `json:"topCapacityUtilization"`
}

// QueueUtilization is the capacity the STARTING and RUNNING jobs of a
// queue use.
type QueueUtilization struct {
	TotalCapacityUsage   []CapacityUsage       `json:"totalCapacityUsage"`
	FairshareUtilization *FairshareUtilization `json:"fairshareUtilization,omitempty"`
	LastUpdatedAt        int64                 `json:"lastUpdatedAt,omitempty"`
}
