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

// MaxDependencies is how many dependsOn entries a job may have (AWS allows
// 20). The scheduler keeps, per job, only the ids it waits for and, per
// dependency, the jobs waiting for it, so a job with this many costs a few
// tens of kilobytes of planner memory.
const MaxDependencies = 1000

// Time limit actions (JobStateTimeLimitAction.Action). CANCEL is AWS's;
// TERMINATE is an addition (the job is failed as TerminateJob does, with
// isTerminated set).
const (
	TimeLimitCancel    = "CANCEL"
	TimeLimitTerminate = "TERMINATE"
)

// JobStateTimeLimitAction is one entry of a queue's
// jobStateTimeLimitActions (AWS's shape) and of a job's (an addition,
// SubmitJobInput.JobStateTimeLimitActions). AWS allows State RUNNABLE
// only and matches Reason against the code of the job's statusReason; this
// system adds State PENDING and Reason "*" (any reason, or none). The
// monitor enforces them (services/monitor/timelimits.go).
type JobStateTimeLimitAction struct {
	Reason         string `json:"reason"`
	State          string `json:"state"`
	MaxTimeSeconds int    `json:"maxTimeSeconds"`
	Action         string `json:"action"`
}

// ArrayParentOf returns the parent id of an array child ("p:3" -> "p",
// 3, true).
func ArrayParentOf(jobID string) (parent string, index int, ok bool) {
	i := len(jobID) - 1
	for i >= 0 && jobID[i] >= '0' && jobID[i] <= '9' {
		i--
	}
	if i <= 0 || i == len(jobID)-1 || jobID[i] != ':' {
		return "", 0, false
	}
	n := 0
	for _, c := range jobID[i+1:] {
		n = n*10 + int(c-'0')
		if n > 1_000_000 {
			return "", 0, false
		}
	}
	return jobID[:i], n, true
}

// ArrayChildID names child index of an array parent.
func ArrayChildID(parent string, index int) string {
	return parent + ":" + itoa(index)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// IsArrayParent reports whether the job is the parent of an array job.
func (j *JobDetail) IsArrayParent() bool {
	return j.ArrayProperties != nil && j.ArrayProperties.Size > 0 && j.ArrayProperties.Index == nil
}
