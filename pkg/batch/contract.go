package batch

// Shapes shared by more than one service for scheduling policies, consumable
// resources and the fields this system adds to AWS shapes. The api stores
// them; the scheduler and monitor read them.

// ShareAttributes is one entry of a fair-share policy's shareDistribution.
// ShareIdentifier may end with '*' to match a prefix.
type ShareAttributes struct {
	ShareIdentifier string  `json:"shareIdentifier"`
	WeightFactor    float64 `json:"weightFactor,omitempty"`

	// Addition: at most this many jobs of the share run at once (0: no
	// limit).
	MaxRunningJobs int `json:"maxRunningJobs,omitempty"`
}

// FairsharePolicy is the fair-share part of a scheduling policy.
type FairsharePolicy struct {
	ShareDecaySeconds  int               `json:"shareDecaySeconds,omitempty"`
	ComputeReservation int               `json:"computeReservation,omitempty"`
	ShareDistribution  []ShareAttributes `json:"shareDistribution,omitempty"`
}

// SchedulingPolicyDetail is a scheduling policy, stored in
// events.BucketPolicies under its name.
type SchedulingPolicyDetail struct {
	Name            string            `json:"name"`
	Arn             string            `json:"arn"`
	FairsharePolicy *FairsharePolicy  `json:"fairsharePolicy,omitempty"`
	Tags            map[string]string `json:"tags,omitempty"`
}

// Consumable resource types.
const (
	ResourceReplenishable    = "REPLENISHABLE"
	ResourceNonReplenishable = "NON_REPLENISHABLE"
)

// ConsumableResourceDetail is a consumable resource, stored in
// events.BucketResources under its name. InUseQuantity and
// AvailableQuantity are derived from the jobs that hold it when it is
// described; the stored record keeps TotalQuantity.
//
// Who holds a quantity (the api and the scheduler count it the same way):
// a REPLENISHABLE resource is held by every job in STARTING or RUNNING (and
// by a job the scheduler has placed and the record does not show yet); a
// NON_REPLENISHABLE resource is held, for good, by every job that has ever
// left RUNNABLE for STARTING (status STARTING or RUNNING, or any job with at
// least one attempt).
type ConsumableResourceDetail struct {
	ConsumableResourceName string            `json:"consumableResourceName"`
	ConsumableResourceArn  string            `json:"consumableResourceArn"`
	TotalQuantity          int64             `json:"totalQuantity"`
	InUseQuantity          int64             `json:"inUseQuantity"`
	AvailableQuantity      int64             `json:"availableQuantity"`
	ResourceType           string            `json:"resourceType"`
	CreatedAt              int64             `json:"createdAt,omitempty"`
	Tags                   map[string]string `json:"tags,omitempty"`
}

// ConsumableResourceRequirement is a quantity of a consumable resource a job
// needs; ConsumableResource is a name or an ARN.
type ConsumableResourceRequirement struct {
	ConsumableResource string `json:"consumableResource"`
	Quantity           int64  `json:"quantity"`
}

// ConsumableResourceProperties lists the consumable resources of a job.
type ConsumableResourceProperties struct {
	ConsumableResourceList []ConsumableResourceRequirement `json:"consumableResourceList,omitempty"`
}

// Dependency types. N_TO_N and SEQUENTIAL are AWS's; a dependency without a
// type waits for the named job (or all children of a named array) to
// succeed.
const (
	DependencyNToN       = "N_TO_N"
	DependencySequential = "SEQUENTIAL"
)

// Dependency conditions (an addition, JobDependency.Condition): when a
// dependency counts as met.
const (
	// ConditionSucceeded: the dependency must succeed; its failure fails
	// the dependent job (AWS behaviour, the default).
	ConditionSucceeded = "SUCCEEDED"
	// ConditionAny: the dependency must reach a final state, whatever it is.
	ConditionAny = "ANY"
)
