package api

import (
	"context"
	"errors"
	"fmt"

	"github.com/batchd/batchd/pkg/batch"
)

// The consumable resources of job definitions and jobs: validated at
// registration and submit, and resolved onto the job record
// (JobDetail.ConsumableResourceProperties) for the scheduler.

// checkConsumableProperties validates the consumable resources a
// definition or an override lists and returns a copy (nil when it lists
// none): each entry names a resource (name or ARN) once, with a quantity of
// at least 1.
func checkConsumableProperties(field string, p *batch.ConsumableResourceProperties) (*batch.ConsumableResourceProperties, error) {
	if p == nil || len(p.ConsumableResourceList) == 0 {
		return nil, nil
	}
	seen := map[string]bool{}
	out := &batch.ConsumableResourceProperties{}
	for i, r := range p.ConsumableResourceList {
		f := fmt.Sprintf("%s.consumableResourceList[%d]", field, i)
		if r.ConsumableResource == "" {
			return nil, clientErr("%s.consumableResource is required: give the name or ARN of a consumable resource", f)
		}
		name := resourceName(r.ConsumableResource)
		if seen[name] {
			return nil, clientErr("%s lists consumable resource %s twice: give each resource once with the total quantity", field, name)
		}
		seen[name] = true
		if r.Quantity < 1 {
			return nil, clientErr("%s.quantity %d is invalid: a job needs a quantity of at least 1", f, r.Quantity)
		}
		out.ConsumableResourceList = append(out.ConsumableResourceList, r)
	}
	return out, nil
}

// requireResources checks that every resource p lists exists.
func (s *Server) requireResources(ctx context.Context, field string, p *batch.ConsumableResourceProperties) error {
	if p == nil {
		return nil
	}
	for _, r := range p.ConsumableResourceList {
		_, err := s.loadResource(ctx, r.ConsumableResource)
		if errors.Is(err, errNotFound) {
			return clientErr("%s: consumable resource %s does not exist: create it with CreateConsumableResource", field, r.ConsumableResource)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// jobConsumables is the consumable resources of a submitted job: the
// definition's, with the submit's consumableResourcePropertiesOverride
// applied per resource (an override's quantity replaces the definition's
// for the same resource; other resources are added).
func (s *Server) jobConsumables(ctx context.Context, def *batch.JobDefinition, in *batch.SubmitJobInput) (*batch.ConsumableResourceProperties, error) {
	over, err := checkConsumableProperties("consumableResourcePropertiesOverride", in.ConsumableResourcePropertiesOverride)
	if err != nil {
		return nil, err
	}
	var base []batch.ConsumableResourceRequirement
	if def.ConsumableResourceProperties != nil {
		base = def.ConsumableResourceProperties.ConsumableResourceList
	}
	if over == nil {
		if len(base) == 0 {
			return nil, nil
		}
		return &batch.ConsumableResourceProperties{ConsumableResourceList: mergeBy(base, nil, requirementName)}, nil
	}
	if err := s.requireResources(ctx, "consumableResourcePropertiesOverride", over); err != nil {
		return nil, err
	}
	return &batch.ConsumableResourceProperties{ConsumableResourceList: mergeBy(base, over.ConsumableResourceList, requirementName)}, nil
}

func requirementName(r batch.ConsumableResourceRequirement) string {
	return resourceName(r.ConsumableResource)
}
