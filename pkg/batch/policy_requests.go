package batch

import "encoding/json"

// The scheduling policy requests. The stored shape is
// SchedulingPolicyDetail (contract.go).

// CreateSchedulingPolicyInput is the CreateSchedulingPolicy request.
type CreateSchedulingPolicyInput struct {
	Name            string            `json:"name"`
	FairsharePolicy *FairsharePolicy  `json:"fairsharePolicy,omitempty"`
	Tags            map[string]string `json:"tags,omitempty"`
	// QuotaSharePolicy is refused: quota shares are not supported.
	QuotaSharePolicy json.RawMessage `json:"quotaSharePolicy,omitempty"`
}

// SchedulingPolicyRef names a created policy.
type SchedulingPolicyRef struct {
	Name string `json:"name"`
	Arn  string `json:"arn"`
}

// DescribeSchedulingPoliciesInput is the DescribeSchedulingPolicies request.
type DescribeSchedulingPoliciesInput struct {
	Arns []string `json:"arns"`
}

// DescribeSchedulingPoliciesOutput is the DescribeSchedulingPolicies answer.
type DescribeSchedulingPoliciesOutput struct {
	SchedulingPolicies []SchedulingPolicyDetail `json:"schedulingPolicies"`
}

// ListSchedulingPoliciesInput is the ListSchedulingPolicies request.
type ListSchedulingPoliciesInput struct {
	MaxResults int    `json:"maxResults,omitempty"`
	NextToken  string `json:"nextToken,omitempty"`
}

// SchedulingPolicyListing is one ListSchedulingPolicies entry.
type SchedulingPolicyListing struct {
	Arn string `json:"arn"`
}

// ListSchedulingPoliciesOutput is the ListSchedulingPolicies answer.
type ListSchedulingPoliciesOutput struct {
	SchedulingPolicies []SchedulingPolicyListing `json:"schedulingPolicies"`
	NextToken          string                    `json:"nextToken,omitempty"`
}

// UpdateSchedulingPolicyInput is the UpdateSchedulingPolicy request.
type UpdateSchedulingPolicyInput struct {
	Arn              string           `json:"arn"`
	FairsharePolicy  *FairsharePolicy `json:"fairsharePolicy,omitempty"`
	QuotaSharePolicy json.RawMessage  `json:"quotaSharePolicy,omitempty"`
}

// DeleteSchedulingPolicyInput is the DeleteSchedulingPolicy request.
type DeleteSchedulingPolicyInput struct {
	Arn string `json:"arn"`
}
