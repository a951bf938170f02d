package api

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
)

// Tags of compute environments, job queues, job definition revisions,
// scheduling policies, consumable resources and jobs. The api changes the
// tags of the resources it stores itself; a job's record belongs to the
// monitor, so a job's tags change through a JobTagged fact, and the answer
// comes once JetStream has stored it.

// maxUntagKeys is the most keys one UntagResource removes.
const maxUntagKeys = 50

// tagTarget is the resource an ARN names.
type tagTarget struct {
	kind, name string
}

// parseTagArn reads the resource ARN of a tag operation.
func parseTagArn(arn string) (tagTarget, error) {
	if arn == "" {
		return tagTarget{}, clientErr("resourceArn is required: give the ARN of a compute environment, job queue, job definition revision, scheduling policy, consumable resource or job")
	}
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "batch" {
		return tagTarget{}, clientErr("resourceArn %q is not an AWS Batch ARN: use arn:aws:batch:%s:%s:<resource type>/<name>", arn, batch.Region, batch.Account)
	}
	kind, name, ok := strings.Cut(parts[5], "/")
	if !ok || name == "" {
		return tagTarget{}, clientErr("resourceArn %q has no resource name: use arn:aws:batch:%s:%s:<resource type>/<name>", arn, batch.Region, batch.Account)
	}
	switch kind {
	case batch.KindComputeEnvironment, batch.KindJobQueue, batch.KindSchedulingPolicy, batch.KindConsumableResource:
		if !validName(name) {
			return tagTarget{}, clientErr("resourceArn %s names no resource: %q is not a valid name", arn, name)
		}
	case batch.KindJobDefinition:
		n, rev, hasRev := strings.Cut(name, ":")
		if r, err := strconv.Atoi(rev); !hasRev || err != nil || r < 1 || !validName(n) {
			return tagTarget{}, clientErr("resourceArn %s must name one job definition revision: use ...:job-definition/<name>:<revision>", arn)
		}
	case batch.KindJob:
		if strings.ContainsAny(name, ":#") {
			return tagTarget{}, clientErr("resourceArn %s is a child of an array or multi-node parallel job: tags are supported on the parent job only", arn)
		}
		if !validJobID(name) {
			return tagTarget{}, clientErr("resourceArn %s names no job: %q is not a job id", arn, name)
		}
	default:
		return tagTarget{}, clientErr("resourceArn %s: resources of type %q have no tags; tags are supported on compute-environment, job-queue, job-definition, scheduling-policy, consumable-resource and job", arn, kind)
	}
	return tagTarget{kind: kind, name: name}, nil
}

// tagMissing is the error for a resource that does not exist.
func tagMissing(arn string) error {
	return clientErr("resource %s does not exist", arn)
}

// tagsChange turns a resource's tags into its new tags.
type tagsChange func(map[string]string) (map[string]string, error)

// changeTags applies change to the tags of the resource, or, for a job,
// stores the fact that does; it returns the resource's tags.
func (s *Server) changeTags(ctx context.Context, arn string, t tagTarget, change tagsChange, fact events.JobTagged) (map[string]string, error) {
	var tags map[string]string
	var err error
	switch t.kind {
	case batch.KindComputeEnvironment:
		tags, err = updateTags(ctx, s.envs, t.name, func(v *batch.ComputeEnvironmentDetail) *map[string]string { return &v.Tags }, change)
	case batch.KindJobQueue:
		tags, err = updateTags(ctx, s.queues, t.name, func(v *batch.JobQueueDetail) *map[string]string { return &v.Tags }, change)
	case batch.KindSchedulingPolicy:
		tags, err = updateTags(ctx, s.policies, t.name, func(v *batch.SchedulingPolicyDetail) *map[string]string { return &v.Tags }, change)
	case batch.KindConsumableResource:
		tags, err = updateTags(ctx, s.resources, t.name, func(v *resourceRecord) *map[string]string { return &v.Tags }, change)
	case batch.KindJobDefinition:
		n, rev, _ := strings.Cut(t.name, ":")
		r, _ := strconv.Atoi(rev)
		tags, err = updateTags(ctx, s.defs.kvCache, defKey(n, r), func(v *batch.JobDefinition) *map[string]string { return &v.Tags }, change)
	case batch.KindJob:
		return s.changeJobTags(ctx, arn, t.name, change, fact)
	}
	if errors.Is(err, errNotFound) {
		return nil, tagMissing(arn)
	}
	return tags, err
}

// updateTags changes the tags of one stored resource with compare-and-set.
func updateTags[T any](ctx context.Context, c *kvCache[T], key string, field func(*T) *map[string]string, change tagsChange) (map[string]string, error) {
	v, err := c.update(ctx, key, func(v *T) error {
		tags, err := change(*field(v))
		if err != nil {
			return err
		}
		*field(v) = tags
		return nil
	})
	if err != nil {
		return nil, err
	}
	return *field(v), nil
}

// changeJobTags checks the change against the job's current tags and
// stores the fact; the monitor applies it to the record.
func (s *Server) changeJobTags(ctx context.Context, arn, id string, change tagsChange, fact events.JobTagged) (map[string]string, error) {
	j, err := s.lookupJob(ctx, id)
	if err != nil {
		return nil, err
	}
	if j == nil {
		return nil, tagMissing(arn)
	}
	tags, err := change(j.Tags)
	if err != nil {
		return nil, err
	}
	fact.JobID, fact.Request = id, newUUID()
	if _, err := bus.Publish(ctx, s.js, fact); err != nil {
		return nil, fmt.Errorf("store tags of job %s: %w", id, err)
	}
	return tags, nil
}

// tagResource is the TagResource operation: the tags given are added or
// replace those with the same keys; the others stay.
func (s *Server) tagResource(ctx context.Context, in *batch.TagResourceInput) (*batch.Empty, error) {
	t, err := parseTagArn(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, clientErr("tags is required: give 1 to %d tags as key/value pairs", maxTags)
	}
	if err := checkTags("tags", in.Tags); err != nil {
		return nil, err
	}
	add := func(cur map[string]string) (map[string]string, error) {
		out := maps.Clone(cur)
		if out == nil {
			out = map[string]string{}
		}
		maps.Copy(out, in.Tags)
		if len(out) > maxTags {
			return nil, clientErr("the resource would have %d tags: at most %d are allowed; remove some with UntagResource first", len(out), maxTags)
		}
		return out, nil
	}
	if _, err := s.changeTags(ctx, in.ResourceArn, t, add, events.JobTagged{Tags: maps.Clone(in.Tags)}); err != nil {
		return nil, err
	}
	return &batch.Empty{}, nil
}

// untagResource is the UntagResource operation: the tags with the keys
// given are removed; keys the resource does not have are ignored.
func (s *Server) untagResource(ctx context.Context, in *batch.UntagResourceInput) (*batch.Empty, error) {
	t, err := parseTagArn(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	if len(in.TagKeys) == 0 || len(in.TagKeys) > maxUntagKeys {
		return nil, clientErr("tagKeys has %d keys: give 1 to %d", len(in.TagKeys), maxUntagKeys)
	}
	for _, k := range in.TagKeys {
		if k == "" || len(k) > maxTagKeyLen {
			return nil, clientErr("tagKeys key %q is invalid: keys are 1 to %d characters", k, maxTagKeyLen)
		}
	}
	remove := func(cur map[string]string) (map[string]string, error) {
		out := maps.Clone(cur)
		for _, k := range in.TagKeys {
			delete(out, k)
		}
		if len(out) == 0 {
			out = nil
		}
		return out, nil
	}
	if _, err := s.changeTags(ctx, in.ResourceArn, t, remove, events.JobTagged{Remove: append([]string(nil), in.TagKeys...)}); err != nil {
		return nil, err
	}
	return &batch.Empty{}, nil
}

// listTagsForResource is the ListTagsForResource operation.
func (s *Server) listTagsForResource(ctx context.Context, in *batch.ListTagsForResourceInput) (*batch.ListTagsForResourceOutput, error) {
	t, err := parseTagArn(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	var tags map[string]string
	found := true
	read := func(v map[string]string, err error) {
		switch {
		case errors.Is(err, errNotFound):
			found = false
		default:
			tags = v
		}
	}
	switch t.kind {
	case batch.KindComputeEnvironment:
		read(loadTags(ctx, s.envs, t.name, func(v *batch.ComputeEnvironmentDetail) map[string]string { return v.Tags }))
	case batch.KindJobQueue:
		read(loadTags(ctx, s.queues, t.name, func(v *batch.JobQueueDetail) map[string]string { return v.Tags }))
	case batch.KindSchedulingPolicy:
		read(loadTags(ctx, s.policies, t.name, func(v *batch.SchedulingPolicyDetail) map[string]string { return v.Tags }))
	case batch.KindConsumableResource:
		read(loadTags(ctx, s.resources, t.name, func(v *resourceRecord) map[string]string { return v.Tags }))
	case batch.KindJobDefinition:
		n, rev, _ := strings.Cut(t.name, ":")
		r, _ := strconv.Atoi(rev)
		read(loadTags(ctx, s.defs.kvCache, defKey(n, r), func(v *batch.JobDefinition) map[string]string { return v.Tags }))
	case batch.KindJob:
		j, err := s.lookupJob(ctx, t.name)
		if err != nil {
			return nil, err
		}
		if j == nil {
			found = false
		} else {
			tags = j.Tags
		}
	}
	if !found {
		return nil, tagMissing(in.ResourceArn)
	}
	out := &batch.ListTagsForResourceOutput{Tags: maps.Clone(tags)}
	if out.Tags == nil {
		out.Tags = map[string]string{}
	}
	return out, nil
}

// loadTags reads the tags of one stored resource.
func loadTags[T any](ctx context.Context, c *kvCache[T], key string, field func(*T) map[string]string) (map[string]string, error) {
	v, err := c.load(ctx, key)
	if err != nil {
		return nil, err
	}
	return field(v), nil
}
