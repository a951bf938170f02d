package api

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/batchd/batchd/pkg/batch"
)

// Compute environment and queue states and statuses.
const (
	stateEnabled  = "ENABLED"
	stateDisabled = "DISABLED"
	statusValid   = "VALID"
	ceManaged     = "MANAGED"
	ceUnmanaged   = "UNMANAGED"
)

var (
	computeResourceTypes = []string{"EC2", "SPOT", "FARGATE", "FARGATE_SPOT"}
	allocationStrategies = []string{"BEST_FIT", "BEST_FIT_PROGRESSIVE", "BEST_FIT_PROGRESSIVE_ORDERED",
		"SPOT_CAPACITY_OPTIMIZED", "SPOT_PRICE_CAPACITY_OPTIMIZED", "SPOT_CAPACITY_OPTIMIZED_PRIORITIZED"}
)

// isFargateEnv reports whether an environment runs Fargate capacity.
func isFargateEnv(ce *batch.ComputeEnvironmentDetail) bool {
	return ce.ComputeResources != nil && (ce.ComputeResources.Type == "FARGATE" || ce.ComputeResources.Type == "FARGATE_SPOT")
}

// newComputeEnvironment validates a CreateComputeEnvironment request and
// builds the environment it describes.
func newComputeEnvironment(in *batch.CreateComputeEnvironmentInput, uuid string) (*batch.ComputeEnvironmentDetail, error) {
	if err := checkName("computeEnvironmentName", in.ComputeEnvironmentName); err != nil {
		return nil, err
	}
	state := in.State
	if state == "" {
		state = stateEnabled
	}
	if err := checkEnum("state", state, stateEnabled, stateDisabled); err != nil {
		return nil, err
	}
	var cr *batch.ComputeResource
	switch in.Type {
	case ceManaged:
		if in.ComputeResources == nil {
			return nil, clientErr("computeResources is required for a MANAGED compute environment: give at least its type (EC2, SPOT, FARGATE or FARGATE_SPOT) and maxvCpus")
		}
		if in.UnmanagedvCpus != nil {
			return nil, clientErr("unmanagedvCpus applies only to UNMANAGED compute environments: set computeResources.maxvCpus instead")
		}
		c := *in.ComputeResources
		if err := checkComputeResource(&c); err != nil {
			return nil, err
		}
		c.LaunchTemplate, c.Ec2Configuration, c.ScalingPolicy = orNil(c.LaunchTemplate), orNil(c.Ec2Configuration), orNil(c.ScalingPolicy)
		cr = &c
	case ceUnmanaged:
		if in.ComputeResources != nil {
			return nil, clientErr("computeResources is not allowed for an UNMANAGED compute environment: use unmanagedvCpus to set its capacity")
		}
		if in.UnmanagedvCpus != nil && *in.UnmanagedvCpus < 0 {
			return nil, clientErr("unmanagedvCpus %d must not be negative", *in.UnmanagedvCpus)
		}
	case "":
		return nil, clientErr("type is required: use MANAGED or UNMANAGED")
	default:
		return nil, clientErr("type %q is invalid: use MANAGED or UNMANAGED", in.Type)
	}
	if err := checkTags("tags", in.Tags); err != nil {
		return nil, err
	}
	orch := "ECS"
	if present(in.EksConfiguration) {
		orch = "EKS"
	}
	name := in.ComputeEnvironmentName
	return &batch.ComputeEnvironmentDetail{
		ComputeEnvironmentName:     name,
		ComputeEnvironmentArn:      batch.ARN(batch.KindComputeEnvironment, name),
		UnmanagedvCpus:             in.UnmanagedvCpus,
		EcsClusterArn:              "arn:aws:ecs:" + batch.Region + ":" + batch.Account + ":cluster/" + name + "_Batch_" + uuid,
		Tags:                       maps.Clone(in.Tags),
		Type:                       in.Type,
		State:                      state,
		Status:                     statusValid,
		StatusReason:               "ComputeEnvironment Healthy",
		ComputeResources:           cr,
		ServiceRole:                in.ServiceRole,
		EksConfiguration:           orNil(in.EksConfiguration),
		ContainerOrchestrationType: orch,
		UUID:                       uuid,
		Context:                    in.Context,
	}, nil
}

// checkComputeResource validates the computeResources of a MANAGED environment.
func checkComputeResource(c *batch.ComputeResource) error {
	if c.Type == "" {
		return clientErr("computeResources.type is required: use EC2, SPOT, FARGATE or FARGATE_SPOT")
	}
	if err := checkEnum("computeResources.type", c.Type, computeResourceTypes...); err != nil {
		return err
	}
	if err := checkEnum("computeResources.allocationStrategy", c.AllocationStrategy, allocationStrategies...); err != nil {
		return err
	}
	return checkVcpuRange(c.MinvCpus, c.MaxvCpus, c.DesiredvCpus)
}

// checkVcpuRange validates minvCpus <= desiredvCpus <= maxvCpus.
func checkVcpuRange(minv *int, maxv int, desired *int) error {
	if maxv < 0 {
		return clientErr("computeResources.maxvCpus %d must not be negative", maxv)
	}
	lo := 0
	if minv != nil {
		if *minv < 0 || *minv > maxv {
			return clientErr("computeResources.minvCpus %d is out of range: use 0 to maxvCpus (%d)", *minv, maxv)
		}
		lo = *minv
	}
	if desired != nil && (*desired < lo || *desired > maxv) {
		return clientErr("computeResources.desiredvCpus %d is out of range: use minvCpus (%d) to maxvCpus (%d)", *desired, lo, maxv)
	}
	return nil
}

// applyComputeEnvironmentUpdate changes ce as an UpdateComputeEnvironment
// request says.
func applyComputeEnvironmentUpdate(ce *batch.ComputeEnvironmentDetail, in *batch.UpdateComputeEnvironmentInput) error {
	if err := checkEnum("state", in.State, stateEnabled, stateDisabled); err != nil {
		return err
	}
	if in.State != "" {
		ce.State = in.State
	}
	if in.UnmanagedvCpus != nil {
		if ce.Type != ceUnmanaged {
			return clientErr("unmanagedvCpus applies only to UNMANAGED compute environments; %s is %s: update computeResources.maxvCpus instead", ce.ComputeEnvironmentName, ce.Type)
		}
		if *in.UnmanagedvCpus < 0 {
			return clientErr("unmanagedvCpus %d must not be negative", *in.UnmanagedvCpus)
		}
		ce.UnmanagedvCpus = in.UnmanagedvCpus
	}
	if u := in.ComputeResources; u != nil {
		if ce.ComputeResources == nil {
			return clientErr("computeResources applies only to MANAGED compute environments; %s is UNMANAGED: update unmanagedvCpus instead", ce.ComputeEnvironmentName)
		}
		cr := *ce.ComputeResources
		if u.MaxvCpus != nil {
			cr.MaxvCpus = *u.MaxvCpus
		}
		if u.MinvCpus != nil {
			cr.MinvCpus = u.MinvCpus
		}
		if u.DesiredvCpus != nil {
			cr.DesiredvCpus = u.DesiredvCpus
		}
		if u.Subnets != nil {
			cr.Subnets = slices.Clone(u.Subnets)
		}
		if u.SecurityGroupIDs != nil {
			cr.SecurityGroupIDs = slices.Clone(u.SecurityGroupIDs)
		}
		if u.InstanceTypes != nil {
			cr.InstanceTypes = slices.Clone(u.InstanceTypes)
		}
		if u.AllocationStrategy != "" {
			cr.AllocationStrategy = u.AllocationStrategy
		}
		if err := checkComputeResource(&cr); err != nil {
			return err
		}
		ce.ComputeResources = &cr
	}
	if in.ServiceRole != "" {
		ce.ServiceRole = in.ServiceRole
	}
	if present(in.UpdatePolicy) {
		ce.UpdatePolicy = in.UpdatePolicy
	}
	if in.Context != "" {
		ce.Context = in.Context
	}
	ce.Status, ce.StatusReason = statusValid, "ComputeEnvironment Healthy"
	return nil
}

// createComputeEnvironment is the CreateComputeEnvironment operation.
func (s *Server) createComputeEnvironment(ctx context.Context, in *batch.CreateComputeEnvironmentInput) (*batch.ComputeEnvironmentRef, error) {
	ce, err := newComputeEnvironment(in, newUUID())
	if err != nil {
		return nil, err
	}
	created, err := s.envs.create(ctx, ce.ComputeEnvironmentName, ce)
	if err != nil {
		return nil, err
	}
	if !created {
		return nil, clientErr("Object already exists: a compute environment named %s exists already; choose another name or change it with UpdateComputeEnvironment", ce.ComputeEnvironmentName)
	}
	s.log.InfoContext(ctx, "compute environment created", "name", ce.ComputeEnvironmentName, "type", ce.Type, "capacity", ce.Capacity())
	return &batch.ComputeEnvironmentRef{ComputeEnvironmentName: ce.ComputeEnvironmentName, ComputeEnvironmentArn: ce.ComputeEnvironmentArn}, nil
}

// updateComputeEnvironment is the UpdateComputeEnvironment operation.
func (s *Server) updateComputeEnvironment(ctx context.Context, in *batch.UpdateComputeEnvironmentInput) (*batch.ComputeEnvironmentRef, error) {
	if in.ComputeEnvironment == "" {
		return nil, clientErr("computeEnvironment is required: give the name or ARN of the compute environment to update")
	}
	name := batch.NameFromRef(batch.KindComputeEnvironment, in.ComputeEnvironment)
	if !validName(name) {
		return nil, clientErr("compute environment %s does not exist", in.ComputeEnvironment)
	}
	ce, err := s.envs.update(ctx, name, func(ce *batch.ComputeEnvironmentDetail) error {
		return applyComputeEnvironmentUpdate(ce, in)
	})
	if errors.Is(err, errNotFound) {
		return nil, clientErr("compute environment %s does not exist: create it with CreateComputeEnvironment", in.ComputeEnvironment)
	}
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "compute environment updated", "name", name, "state", ce.State, "capacity", ce.Capacity())
	return &batch.ComputeEnvironmentRef{ComputeEnvironmentName: ce.ComputeEnvironmentName, ComputeEnvironmentArn: ce.ComputeEnvironmentArn}, nil
}

// describeComputeEnvironments is the DescribeComputeEnvironments operation.
func (s *Server) describeComputeEnvironments(ctx context.Context, in *batch.DescribeComputeEnvironmentsInput) (*batch.DescribeComputeEnvironmentsOutput, error) {
	page, next, err := describeNamed(ctx, s.envs, batch.KindComputeEnvironment, "computeEnvironments", in.ComputeEnvironments, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &batch.DescribeComputeEnvironmentsOutput{ComputeEnvironments: entryValues(page), NextToken: next}, nil
}

func entryKey[T any](e entry[T]) string { return e.key }

// entryValues copies the values of entries out, for an answer.
func entryValues[T any](page []entry[T]) []T {
	out := make([]T, 0, len(page))
	for _, e := range page {
		out = append(out, *e.v)
	}
	return out
}

// describeNamed is one page of the named resources, or of all of them when
// no names are given: the common part of the Describe operations.
func describeNamed[T any](ctx context.Context, c *kvCache[T], kind, field string, refs []string, maxResults int, token string) ([]entry[T], string, error) {
	if len(refs) > maxDescribeItems {
		return nil, "", clientErr("%s lists %d entries: at most %d are allowed", field, len(refs), maxDescribeItems)
	}
	if len(refs) == 0 {
		return paginate(c.list(), entryKey, maxResults, token)
	}
	named, err := loadNamed(ctx, c, kind, refs)
	if err != nil {
		return nil, "", err
	}
	return paginate(named, entryKey, maxResults, token)
}

// loadNamed reads the named (or ARN-given) items, skipping unknown ones as
// AWS does, sorted by name and without duplicates.
func loadNamed[T any](ctx context.Context, c *kvCache[T], kind string, refs []string) ([]entry[T], error) {
	seen := map[string]bool{}
	var out []entry[T]
	for _, ref := range refs {
		name := batch.NameFromRef(kind, ref)
		if seen[name] || !validName(name) {
			continue
		}
		seen[name] = true
		v, err := c.load(ctx, name)
		if errors.Is(err, errNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, entry[T]{name, v})
	}
	slices.SortFunc(out, func(a, b entry[T]) int { return strings.Compare(a.key, b.key) })
	return out, nil
}
