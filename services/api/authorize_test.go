package api

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// noResourceLevel are the operations that act on "*" (no resource-level
// permissions, as in AWS); docs/api.md lists them.
var noResourceLevel = []string{"DescribeJobs", "ListJobs", "DescribeComputeEnvironments", "DescribeJobQueues",
	"DescribeJobDefinitions", "DescribeSchedulingPolicies", "ListSchedulingPolicies", "ListConsumableResources",
	"DescribeNotificationRules", "ListDeadLetters", "ReplayDeadLetters"}

// TestEveryOperationHasResources: an operation added later must say which
// resources it acts on (authorize.go and docs/api.md), or be listed above.
func TestEveryOperationHasResources(t *testing.T) {
	var s Server
	stop := errors.New("stop")
	for _, o := range s.operations() {
		var got []string
		o.authorize = func(ctx context.Context, name string, in any) error {
			if name != "SubmitJob" { // needs the definitions; covered by TestAuthSDK
				got = s.resourcesOf(ctx, in)
			} else {
				got = []string{"covered"}
			}
			return stop
		}
		if _, err := o.call(context.Background(), []byte(`{}`)); !errors.Is(err, stop) {
			t.Fatalf("%s: %v", o.name, err)
		}
		star := slices.Contains(noResourceLevel, o.name)
		if star != (len(got) == 0) {
			t.Errorf("%s: resources %v; an operation either names its resources in resourcesOf or is listed in noResourceLevel", o.name, got)
		}
	}
}
