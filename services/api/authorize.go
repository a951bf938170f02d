package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/services/api/auth"
)

// Access control (Config.Auth set): every request is made by a principal
// (its SigV4 signature over HTTP, its NATS account over NATS) and each
// operation is authorised as the IAM action batch:<Operation> on the
// resources it acts on, as AWS's "Actions, resources, and condition keys
// for AWS Batch" lists them. Operations without resource-level permissions
// (the Describe and List operations) act on "*". docs/api.md has the
// table.

// kindNotificationRule is the resource type of batchd's notification rules
// (an addition: AWS Batch has none).
const kindNotificationRule = "notification-rule"

// authorize decides an operation's request for the principal in ctx.
func (s *Server) authorize(ctx context.Context, name string, in any) error {
	p := auth.FromContext(ctx)
	if p == nil {
		return &apiError{Type: auth.AccessDenied, Status: http.StatusForbidden,
			Message: "the request carries no identity: sign HTTP requests with SigV4, connect to NATS as a credential's user"}
	}
	return p.Authorize("batch:"+name, s.resourcesOf(ctx, in)...)
}

// resourcesOf returns the ARNs an operation's request acts on; none means
// "*".
func (s *Server) resourcesOf(ctx context.Context, in any) []string {
	switch in := in.(type) {
	case *batch.SubmitJobInput:
		return []string{s.submitDefinitionARN(ctx, in.JobDefinition), arnOf(batch.KindJobQueue, in.JobQueue)}
	case *batch.CancelJobInput:
		return []string{arnOf(batch.KindJob, in.JobID)}
	case *batch.TerminateJobInput:
		return []string{arnOf(batch.KindJob, in.JobID)}
	case *batch.RegisterJobDefinitionInput:
		return []string{batch.ARN(batch.KindJobDefinition, in.JobDefinitionName)}
	case *batch.DeregisterJobDefinitionInput:
		return []string{arnOf(batch.KindJobDefinition, in.JobDefinition)}
	case *batch.CreateComputeEnvironmentInput:
		return []string{batch.ARN(batch.KindComputeEnvironment, in.ComputeEnvironmentName)}
	case *batch.UpdateComputeEnvironmentInput:
		return []string{arnOf(batch.KindComputeEnvironment, in.ComputeEnvironment)}
	case *batch.DeleteComputeEnvironmentInput:
		return []string{arnOf(batch.KindComputeEnvironment, in.ComputeEnvironment)}
	case *batch.CreateJobQueueInput:
		return queueResources(batch.ARN(batch.KindJobQueue, in.JobQueueName), in.ComputeEnvironmentOrder, in.SchedulingPolicyArn)
	case *batch.UpdateJobQueueInput:
		return queueResources(arnOf(batch.KindJobQueue, in.JobQueue), in.ComputeEnvironmentOrder, in.SchedulingPolicyArn)
	case *batch.DeleteJobQueueInput:
		return []string{arnOf(batch.KindJobQueue, in.JobQueue)}
	case *batch.GetJobQueueSnapshotInput:
		return []string{arnOf(batch.KindJobQueue, in.JobQueue)}
	case *batch.CreateSchedulingPolicyInput:
		return []string{batch.ARN(batch.KindSchedulingPolicy, in.Name)}
	case *batch.UpdateSchedulingPolicyInput:
		return []string{arnOf(batch.KindSchedulingPolicy, in.Arn)}
	case *batch.DeleteSchedulingPolicyInput:
		return []string{arnOf(batch.KindSchedulingPolicy, in.Arn)}
	case *batch.CreateConsumableResourceInput:
		return []string{batch.ARN(batch.KindConsumableResource, in.ConsumableResourceName)}
	case *batch.ConsumableResourceInput:
		return []string{arnOf(batch.KindConsumableResource, in.ConsumableResource)}
	case *batch.UpdateConsumableResourceInput:
		return []string{arnOf(batch.KindConsumableResource, in.ConsumableResource)}
	case *batch.ListJobsByConsumableResourceInput:
		return []string{arnOf(batch.KindConsumableResource, in.ConsumableResource)}
	case *batch.TagResourceInput:
		return []string{tagResourceARN(in.ResourceArn)}
	case *batch.UntagResourceInput:
		return []string{tagResourceARN(in.ResourceArn)}
	case *batch.ListTagsForResourceInput:
		return []string{tagResourceARN(in.ResourceArn)}
	case *batch.CreateNotificationRuleInput:
		return []string{batch.ARN(kindNotificationRule, in.RuleName)}
	case *batch.UpdateNotificationRuleInput:
		return []string{batch.ARN(kindNotificationRule, in.RuleName)}
	case *batch.DeleteNotificationRuleInput:
		return []string{batch.ARN(kindNotificationRule, in.RuleName)}
	case *batch.ListDeadLettersInput:
		if in.RuleName != "" {
			return []string{batch.ARN(kindNotificationRule, in.RuleName)}
		}
	case *batch.ReplayDeadLettersInput:
		if in.RuleName != "" {
			return []string{batch.ARN(kindNotificationRule, in.RuleName)}
		}
	}
	return nil
}

// arnOf is the ARN of a resource given by name or ARN, in this
// installation's region and account whatever the ARN given says (so a
// policy on batchd's ARNs cannot be sidestepped with another account's).
func arnOf(kind, ref string) string {
	return batch.ARN(kind, batch.NameFromRef(kind, ref))
}

// submitDefinitionARN is the job definition revision a SubmitJob names: a
// name without a revision means its latest ACTIVE revision, as AWS
// authorises it (policies name revisions, e.g. job-definition/app:*).
func (s *Server) submitDefinitionARN(ctx context.Context, ref string) string {
	name := batch.NameFromRef(batch.KindJobDefinition, ref)
	if !strings.Contains(name, ":") {
		if def, err := s.defs.resolve(ctx, ref); err == nil {
			return def.JobDefinitionArn
		}
	}
	return batch.ARN(batch.KindJobDefinition, name)
}

// queueResources are what CreateJobQueue and UpdateJobQueue act on: the
// queue, and the compute environments and scheduling policy it is given.
func queueResources(queue string, order []batch.ComputeEnvironmentOrder, policy string) []string {
	out := []string{queue}
	for _, o := range order {
		out = append(out, arnOf(batch.KindComputeEnvironment, o.ComputeEnvironment))
	}
	if policy != "" {
		out = append(out, arnOf(batch.KindSchedulingPolicy, policy))
	}
	return out
}

// tagResourceARN is the resource of a tag operation, in this
// installation's region and account.
func tagResourceARN(arn string) string {
	if t, err := parseTagArn(arn); err == nil {
		return batch.ARN(t.kind, t.name)
	}
	return arn
}

// Actions lists the operations the api serves, the names of their IAM
// actions after "batch:" (a credentials file's policies are checked
// against them).
func Actions() []string {
	var s Server
	ops := s.operations()
	out := make([]string, 0, len(ops))
	for _, o := range ops {
		out = append(out, o.name)
	}
	return out
}

// KnownAction tells whether AWS Batch or batchd has an action of that
// name (case insensitive): batchd's operations and the AWS Batch
// operations it does not serve (a policy written for AWS may name them).
func KnownAction(name string) bool {
	for _, a := range Actions() {
		if strings.EqualFold(a, name) {
			return true
		}
	}
	for _, a := range awsOnlyActions {
		if strings.EqualFold(a, name) {
			return true
		}
	}
	return false
}

// awsOnlyActions are AWS Batch's actions batchd does not serve.
var awsOnlyActions = []string{"CreateQuotaShare", "CreateServiceEnvironment", "DeleteQuotaShare", "DeleteServiceEnvironment",
	"DescribeQuotaShare", "DescribeServiceEnvironments", "DescribeServiceJob", "ListQuotaShares", "ListServiceJobs",
	"SubmitServiceJob", "TerminateServiceJob", "UpdateQuotaShare", "UpdateServiceEnvironment", "UpdateServiceJob"}
