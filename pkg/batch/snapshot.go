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
	FrontOfQueue *FrontOfQueueDetail `json:"frontOfQueue,omitempty"`
}
