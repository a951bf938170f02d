package events

// The scheduler's own bucket: the lease that makes one scheduler replica
// active at a time, and the fair-share usage the active one hands over.
const (
	// BucketScheduler holds KeySchedulerLease (a SchedulerLease with a
	// per-key TTL) and KeyFairshareUsage (a FairshareUsage); writer: the
	// scheduler.
	BucketScheduler   = "batch_scheduler"
	KeySchedulerLease = "lease"
	KeyFairshareUsage = "fairshare-usage"
)

// SchedulerLease is the value of the lease key: who holds it. Its epoch is
// the KV revision at which it was acquired, which grows with every
// acquisition.
type SchedulerLease struct {
	Holder string `json:"holder"`
	Epoch  uint64 `json:"epoch,omitempty"` // 0 in the acquiring write itself
	Time   int64  `json:"time"`            // unix ms of the write
}

// FairshareUsage is the decayed usage of every share of every fair-share
// queue, saved by the active scheduler periodically and when it hands
// over, so that the next one continues from it.
type FairshareUsage struct {
	Time   int64        `json:"time"` // unix ms at which the usage was brought forward
	Shares []ShareUsage `json:"shares"`
}

// ShareUsage is one share identifier's usage in one queue.
type ShareUsage struct {
	Queue string `json:"queue"`
	Share string `json:"share"`
	// Usage is the exponentially decayed average of the vCPUs the share
	// held; Held the vCPUs it held at Time.
	Usage float64 `json:"usage"`
	Held  float64 `json:"held"`
}
