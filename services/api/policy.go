package api

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/batchd/batchd/pkg/batch"
)

// Scheduling policies: the fair-share settings a job queue can use. The
// api stores each as a batch.SchedulingPolicyDetail in
// events.BucketPolicies under its name; the scheduler reads them.

// Fair-share limits, AWS's unless said otherwise.
const (
	maxShareDecaySeconds  = 604800 // one week
	maxComputeReservation = 99
	minWeightFactor       = 0.0001
	maxWeightFactor       = 999.9999
	maxShareIDLen         = 255
	// maxShareEntries bounds shareDistribution: AWS allows 500 active
	// share identifiers per queue.
	maxShareEntries = 500
)

// policyName is the name of a policy given by ARN (or name).
func policyName(ref string) string { return batch.NameFromRef(batch.KindSchedulingPolicy, ref) }

// policyMissing is the error for an unknown policy.
func policyMissing(ref string) error {
	return clientErr("scheduling policy %s does not exist: create it with CreateSchedulingPolicy or list them with ListSchedulingPolicies", ref)
}

// validShareID reports whether s is a share identifier: up to 255 letters
// and digits, optionally followed by *.
func validShareID(s string) bool {
	body := strings.TrimSuffix(s, "*")
	if body == "" || len(body) > maxShareIDLen {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// sharesOverlap reports whether two shareDistribution identifiers can
// match the same share: equal, or one is a prefix entry (ending in *) that
// the other starts with.
func sharesOverlap(a, b string) bool {
	pa, wa := strings.CutSuffix(a, "*")
	pb, wb := strings.CutSuffix(b, "*")
	switch {
	case wa && wb:
		return strings.HasPrefix(pa, pb) || strings.HasPrefix(pb, pa)
	case wa:
		return strings.HasPrefix(pb, pa)
	case wb:
		return strings.HasPrefix(pa, pb)
	}
	return a == b
}

// checkFairshare validates a fair-share policy and returns a copy.
func checkFairshare(p *batch.FairsharePolicy) (*batch.FairsharePolicy, error) {
	if p == nil {
		return nil, nil
	}
	if p.ShareDecaySeconds < 0 || p.ShareDecaySeconds > maxShareDecaySeconds {
		return nil, clientErr("fairsharePolicy.shareDecaySeconds %d is out of range: use 0 (the default, 600 seconds) to %d (one week)", p.ShareDecaySeconds, maxShareDecaySeconds)
	}
	if p.ComputeReservation < 0 || p.ComputeReservation > maxComputeReservation {
		return nil, clientErr("fairsharePolicy.computeReservation %d is out of range: use 0 to %d", p.ComputeReservation, maxComputeReservation)
	}
	if len(p.ShareDistribution) > maxShareEntries {
		return nil, clientErr("fairsharePolicy.shareDistribution has %d entries: at most %d are allowed", len(p.ShareDistribution), maxShareEntries)
	}
	for i, sa := range p.ShareDistribution {
		f := fmt.Sprintf("fairsharePolicy.shareDistribution[%d]", i)
		if sa.ShareIdentifier == "" {
			return nil, clientErr("%s.shareIdentifier is required: give a share identifier, or a prefix followed by *", f)
		}
		if !validShareID(sa.ShareIdentifier) {
			return nil, clientErr("%s.shareIdentifier %q is invalid: use up to %d letters and digits, optionally followed by *", f, sa.ShareIdentifier, maxShareIDLen)
		}
		if sa.WeightFactor != 0 && (sa.WeightFactor < minWeightFactor || sa.WeightFactor > maxWeightFactor) {
			return nil, clientErr("%s.weightFactor %g is out of range: use %g to %g (lower gets more; the default is 1.0)", f, sa.WeightFactor, minWeightFactor, maxWeightFactor)
		}
		if sa.MaxRunningJobs < 0 {
			return nil, clientErr("%s.maxRunningJobs %d must not be negative: use 0 for no limit", f, sa.MaxRunningJobs)
		}
		for _, prev := range p.ShareDistribution[:i] {
			if sharesOverlap(prev.ShareIdentifier, sa.ShareIdentifier) {
				return nil, clientErr("fairsharePolicy.shareDistribution entries %s and %s overlap: share identifiers and prefixes (ending in *) must not match the same share", prev.ShareIdentifier, sa.ShareIdentifier)
			}
		}
	}
	c := *p
	c.ShareDistribution = slices.Clone(p.ShareDistribution)
	return &c, nil
}

// createSchedulingPolicy is the CreateSchedulingPolicy operation.
func (s *Server) createSchedulingPolicy(ctx context.Context, in *batch.CreateSchedulingPolicyInput) (*batch.SchedulingPolicyRef, error) {
	if err := checkName("name", in.Name); err != nil {
		return nil, err
	}
	if present(in.QuotaSharePolicy) {
		return nil, clientErr("quotaSharePolicy is not supported: quota shares are not implemented; use fairsharePolicy")
	}
	fs, err := checkFairshare(in.FairsharePolicy)
	if err != nil {
		return nil, err
	}
	if err := checkTags("tags", in.Tags); err != nil {
		return nil, err
	}
	p := &batch.SchedulingPolicyDetail{Name: in.Name, Arn: batch.ARN(batch.KindSchedulingPolicy, in.Name), FairsharePolicy: fs, Tags: maps.Clone(in.Tags)}
	created, err := s.policies.create(ctx, p.Name, p)
	if err != nil {
		return nil, err
	}
	if !created {
		return nil, clientErr("Object already exists: a scheduling policy named %s exists already; choose another name or change it with UpdateSchedulingPolicy", p.Name)
	}
	s.log.InfoContext(ctx, "scheduling policy created", "name", p.Name)
	return &batch.SchedulingPolicyRef{Name: p.Name, Arn: p.Arn}, nil
}

// describeSchedulingPolicies is the DescribeSchedulingPolicies operation:
// the named policies (by ARN or name); unknown ones are left out.
func (s *Server) describeSchedulingPolicies(ctx context.Context, in *batch.DescribeSchedulingPoliciesInput) (*batch.DescribeSchedulingPoliciesOutput, error) {
	if in.Arns == nil {
		return nil, clientErr("arns is required: give the ARNs of the scheduling policies to describe")
	}
	if len(in.Arns) > maxDescribeItems {
		return nil, clientErr("arns lists %d entries: at most %d are allowed", len(in.Arns), maxDescribeItems)
	}
	named, err := loadNamed(ctx, s.policies, batch.KindSchedulingPolicy, in.Arns)
	if err != nil {
		return nil, err
	}
	return &batch.DescribeSchedulingPoliciesOutput{SchedulingPolicies: entryValues(named)}, nil
}

// listSchedulingPolicies is the ListSchedulingPolicies operation: the ARNs,
// by name, paged.
func (s *Server) listSchedulingPolicies(_ context.Context, in *batch.ListSchedulingPoliciesInput) (*batch.ListSchedulingPoliciesOutput, error) {
	page, next, err := paginate(s.policies.list(), entryKey, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &batch.ListSchedulingPoliciesOutput{SchedulingPolicies: make([]batch.SchedulingPolicyListing, 0, len(page)), NextToken: next}
	for _, e := range page {
		out.SchedulingPolicies = append(out.SchedulingPolicies, batch.SchedulingPolicyListing{Arn: e.v.Arn})
	}
	return out, nil
}

// updateSchedulingPolicy is the UpdateSchedulingPolicy operation: the
// fair-share settings given replace the policy's.
func (s *Server) updateSchedulingPolicy(ctx context.Context, in *batch.UpdateSchedulingPolicyInput) (*batch.Empty, error) {
	if in.Arn == "" {
		return nil, clientErr("arn is required: give the ARN of the scheduling policy to update")
	}
	if present(in.QuotaSharePolicy) {
		return nil, clientErr("quotaSharePolicy is not supported: a fair-share policy cannot be changed to a quota-share policy")
	}
	fs, err := checkFairshare(in.FairsharePolicy)
	if err != nil {
		return nil, err
	}
	name := policyName(in.Arn)
	if !validName(name) {
		return nil, policyMissing(in.Arn)
	}
	_, err = s.policies.update(ctx, name, func(p *batch.SchedulingPolicyDetail) error {
		if fs != nil {
			p.FairsharePolicy = fs
		}
		return nil
	})
	if errors.Is(err, errNotFound) {
		return nil, policyMissing(in.Arn)
	}
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "scheduling policy updated", "name", name)
	return &batch.Empty{}, nil
}

// deleteSchedulingPolicy is the DeleteSchedulingPolicy operation; a policy
// a job queue uses cannot be deleted.
func (s *Server) deleteSchedulingPolicy(ctx context.Context, in *batch.DeleteSchedulingPolicyInput) (*batch.Empty, error) {
	if in.Arn == "" {
		return nil, clientErr("arn is required: give the ARN of the scheduling policy to delete")
	}
	name := policyName(in.Arn)
	if !validName(name) {
		return nil, policyMissing(in.Arn)
	}
	_, err := s.policies.remove(ctx, name, func(*batch.SchedulingPolicyDetail) error {
		if users := s.queuesUsingPolicy(name); len(users) > 0 {
			return clientErr("Cannot delete, scheduling policy %s is used by job queue %s: give the queue another policy with UpdateJobQueue or delete the queue first", name, strings.Join(users, ", "))
		}
		return nil
	})
	if errors.Is(err, errNotFound) {
		return nil, policyMissing(in.Arn)
	}
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "scheduling policy deleted", "name", name)
	return &batch.Empty{}, nil
}

// queuesUsingPolicy names the queues whose schedulingPolicyArn is the
// policy.
func (s *Server) queuesUsingPolicy(name string) []string {
	var out []string
	for _, e := range s.queues.list() {
		if arn := e.v.SchedulingPolicyArn; arn != "" && policyName(arn) == name {
			out = append(out, e.key)
		}
	}
	return out
}

// resolvePolicy checks that the policy a queue names exists and returns
// its ARN.
func (s *Server) resolvePolicy(ctx context.Context, ref string) (string, error) {
	name := policyName(ref)
	var p *batch.SchedulingPolicyDetail
	err := errNotFound
	if validName(name) {
		p, err = s.policies.load(ctx, name)
	}
	if errors.Is(err, errNotFound) {
		return "", clientErr("schedulingPolicyArn: %v", policyMissing(ref).(*apiError).Message)
	}
	if err != nil {
		return "", err
	}
	return p.Arn, nil
}
