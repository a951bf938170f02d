package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/nats-io/nats.go/jetstream"
)

// Job definition types and statuses.
const (
	defContainer = "container"
	defMultinode = "multinode"
	defActive    = "ACTIVE"
	defInactive  = "INACTIVE"
)

// defStore is the job definition bucket (key "<name>.<revision>") mirrored
// in memory, with the revisions of each name kept sorted.
type defStore struct {
	*kvCache[batch.JobDefinition]
	revs map[string][]int // guarded by kvCache.mu; maintained by onChange
}

func newDefStore(kv jetstream.KeyValue) *defStore {
	d := &defStore{kvCache: newKVCache[batch.JobDefinition](kv), revs: map[string][]int{}}
	d.onChange = d.indexRevision
	return d
}

// defKey is the KV key of one revision.
func defKey(name string, rev int) string { return name + "." + strconv.Itoa(rev) }

// parseDefKey splits a KV key into name and revision.
func parseDefKey(key string) (string, int, bool) {
	i := strings.LastIndexByte(key, '.')
	if i <= 0 {
		return "", 0, false
	}
	rev, err := strconv.Atoi(key[i+1:])
	if err != nil || rev < 1 {
		return "", 0, false
	}
	return key[:i], rev, true
}

// nextRevision is the revision a new registration tries first.
func nextRevision(revs []int) int {
	if len(revs) == 0 {
		return 1
	}
	return slices.Max(revs) + 1
}

func (d *defStore) indexRevision(key string, v *batch.JobDefinition) {
	name, rev, ok := parseDefKey(key)
	if !ok {
		return
	}
	revs := d.revs[name]
	i, found := slices.BinarySearch(revs, rev)
	switch {
	case v == nil && found:
		if revs = slices.Delete(revs, i, i+1); len(revs) == 0 {
			delete(d.revs, name)
			return
		}
		d.revs[name] = revs
	case v != nil && !found:
		d.revs[name] = slices.Insert(revs, i, rev)
	}
}

// revisions returns the known revisions of name, ascending.
func (d *defStore) revisions(name string) []int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return slices.Clone(d.revs[name])
}

// family returns the revisions of name, ascending, reading the bucket when
// this replica knows none (another replica may have just registered it).
func (d *defStore) family(ctx context.Context, name string) ([]int, error) {
	if revs := d.revisions(name); len(revs) > 0 || !validName(name) {
		return revs, nil
	}
	lister, err := d.kv.ListKeysFiltered(ctx, name+".*")
	if err != nil {
		return nil, fmt.Errorf("list revisions of %s: %w", name, err)
	}
	for key := range lister.Keys() {
		if _, err := d.load(ctx, key); err != nil && !errors.Is(err, errNotFound) {
			_ = lister.Stop()
			return nil, err
		}
	}
	return d.revisions(name), nil
}

// resolve finds the definition a job is submitted with: name (latest ACTIVE
// revision), name:revision, or an ARN with or without revision.
func (d *defStore) resolve(ctx context.Context, ref string) (*batch.JobDefinition, error) {
	name, revStr, hasRev := strings.Cut(batch.NameFromRef(batch.KindJobDefinition, ref), ":")
	if !validName(name) {
		return nil, clientErr("job definition %s does not exist: give a name, name:revision or ARN of a registered job definition", ref)
	}
	revs, err := d.family(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(revs) == 0 {
		return nil, clientErr("job definition %s does not exist: register it with RegisterJobDefinition", ref)
	}
	if hasRev {
		rev, err := strconv.Atoi(revStr)
		if err != nil || rev < 1 {
			return nil, clientErr("job definition %s has an invalid revision %q: use name:revision with a revision of 1 or more", ref, revStr)
		}
		def, err := d.load(ctx, defKey(name, rev))
		if errors.Is(err, errNotFound) {
			return nil, clientErr("job definition %s does not exist: the latest revision of %s is %d", ref, name, revs[len(revs)-1])
		}
		if err != nil {
			return nil, err
		}
		if def.Status != defActive {
			return nil, clientErr("job definition %s is %s: submit with an ACTIVE revision", ref, def.Status)
		}
		return def, nil
	}
	for i := len(revs) - 1; i >= 0; i-- {
		def, err := d.load(ctx, defKey(name, revs[i]))
		if errors.Is(err, errNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if def.Status == defActive {
			return def, nil
		}
	}
	return nil, clientErr("job definition %s has no ACTIVE revision: register a new one with RegisterJobDefinition", ref)
}

// newJobDefinition validates a RegisterJobDefinition request and builds the
// revision it describes (without its revision number and ARN).
func newJobDefinition(in *batch.RegisterJobDefinitionInput) (*batch.JobDefinition, error) {
	if err := checkName("jobDefinitionName", in.JobDefinitionName); err != nil {
		return nil, err
	}
	ecs, eks, nodes := present(in.EcsProperties), present(in.EksProperties), present(in.NodeProperties)
	switch in.Type {
	case defContainer:
		n := 0
		for _, given := range []bool{in.ContainerProperties != nil, ecs, eks} {
			if given {
				n++
			}
		}
		if n != 1 {
			return nil, clientErr("a container job definition needs exactly one of containerProperties, ecsProperties or eksProperties")
		}
		if nodes {
			return nil, clientErr("nodeProperties apply only to job definitions of type multinode")
		}
	case defMultinode:
		if !nodes {
			return nil, clientErr("nodeProperties is required for type multinode: give numNodes, mainNode and nodeRangeProperties")
		}
		if in.ContainerProperties != nil || ecs || eks {
			return nil, clientErr("a multinode job definition takes its containers in nodeProperties.nodeRangeProperties: leave containerProperties, ecsProperties and eksProperties out")
		}
	case "":
		return nil, clientErr("type is required: use container or multinode")
	default:
		return nil, clientErr("type %q is invalid: use container or multinode", in.Type)
	}
	fargate, err := checkPlatforms(in.PlatformCapabilities)
	if err != nil {
		return nil, err
	}
	if fargate && nodes {
		return nil, clientErr("multi-node parallel jobs do not run on FARGATE: use platformCapabilities EC2")
	}
	if nodes {
		if err := checkNodeProperties(in.NodeProperties); err != nil {
			return nil, err
		}
	}
	var cp *batch.ContainerProperties
	if in.ContainerProperties != nil {
		c := cleanContainer(*in.ContainerProperties)
		if c.Image == "" {
			return nil, clientErr("containerProperties.image is required: give the container image to run, for example busybox:latest")
		}
		if c.InstanceType != "" {
			return nil, clientErr("containerProperties.instanceType applies only to multi-node parallel jobs (nodeProperties): leave it out")
		}
		for i, v := range c.Volumes {
			if fargate && v.Host != nil && v.Host.SourcePath != "" {
				return nil, clientErr("containerProperties.volumes[%d].host.sourcePath is not allowed on FARGATE (AWS's rule): use an empty host or efsVolumeConfiguration", i)
			}
		}
		if err := checkEnvironment("containerProperties.environment", c.Environment); err != nil {
			return nil, err
		}
		if _, err := checkResources("containerProperties", c.ResourceRequirements, c.Vcpus, c.Memory, fargate); err != nil {
			return nil, err
		}
		cp = &c
	}
	ecsProps := orNil(in.EcsProperties)
	if ecs {
		p, err := checkEcsProperties(in.EcsProperties, fargate)
		if err != nil {
			return nil, err
		}
		if ecsProps, err = json.Marshal(p); err != nil {
			return nil, fmt.Errorf("encode ecsProperties: %w", err)
		}
	}
	retry, err := normalizeRetryStrategy("retryStrategy", in.RetryStrategy)
	if err != nil {
		return nil, err
	}
	if err := checkTimeout("timeout", in.Timeout); err != nil {
		return nil, err
	}
	if p := in.SchedulingPriority; p != nil && (*p < 0 || *p > maxSchedPriority) {
		return nil, clientErr("schedulingPriority %d is out of range: use 0 to %d", *p, maxSchedPriority)
	}
	if err := checkTags("tags", in.Tags); err != nil {
		return nil, err
	}
	consumables, err := checkConsumableProperties("consumableResourceProperties", in.ConsumableResourceProperties)
	if err != nil {
		return nil, err
	}
	orch := "ECS"
	if eks {
		orch = "EKS"
	}
	return &batch.JobDefinition{
		JobDefinitionName:            in.JobDefinitionName,
		Status:                       defActive,
		Type:                         in.Type,
		SchedulingPriority:           in.SchedulingPriority,
		Parameters:                   maps.Clone(in.Parameters),
		RetryStrategy:                retry,
		ContainerProperties:          cp,
		Timeout:                      normalizeTimeout(in.Timeout),
		Tags:                         maps.Clone(in.Tags),
		PropagateTags:                in.PropagateTags,
		PlatformCapabilities:         slices.Clone(in.PlatformCapabilities),
		ContainerOrchType:            orch,
		NodeProperties:               orNil(in.NodeProperties),
		EcsProperties:                ecsProps,
		EksProperties:                orNil(in.EksProperties),
		ConsumableResourceProperties: consumables,
	}, nil
}

// cleanContainer drops JSON nulls from the pass-through fields.
func cleanContainer(c batch.ContainerProperties) batch.ContainerProperties {
	for _, raw := range []*json.RawMessage{
		&c.NetworkConfiguration, &c.FargatePlatformConfiguration, &c.EphemeralStorage, &c.RepositoryCredentials,
	} {
		*raw = orNil(*raw)
	}
	return c
}

// registerJobDefinition is the RegisterJobDefinition operation. Revisions
// are allocated with KV Create on "<name>.<revision>": when another
// registration took a revision first, the next one is tried, so concurrent
// registrations (on any replica) never share a revision.
func (s *Server) registerJobDefinition(ctx context.Context, in *batch.RegisterJobDefinitionInput) (*batch.RegisterJobDefinitionOutput, error) {
	def, err := newJobDefinition(in)
	if err != nil {
		return nil, err
	}
	if err := s.checkPrivilege("job definition "+def.JobDefinitionName, in); err != nil {
		return nil, err
	}
	if cp := def.ContainerProperties; cp != nil {
		if _, err := s.containerSpec("containerProperties", cp.Settings()); err != nil {
			return nil, err
		}
	}
	if present(def.NodeProperties) {
		if err := s.checkNodeRangeSettings(def.NodeProperties); err != nil {
			return nil, err
		}
	}
	if present(def.EcsProperties) {
		p, err := batch.ParseEcsProperties(def.EcsProperties)
		if err != nil {
			return nil, err
		}
		t := &p.TaskProperties[0]
		for i := range t.Containers {
			c := &t.Containers[i]
			if _, err := s.containerSpec(fmt.Sprintf("%s.containers[%d] (%s)", ecsField, i, c.Name), c.Settings(t.Volumes, t.RuntimePlatform)); err != nil {
				return nil, err
			}
		}
	}
	if err := s.requireResources(ctx, "consumableResourceProperties", def.ConsumableResourceProperties); err != nil {
		return nil, err
	}
	name := def.JobDefinitionName
	rev := nextRevision(s.defs.revisions(name))
	for range 10 * maxCASAttempts {
		def.Revision, def.JobDefinitionArn = rev, batch.JobDefinitionARN(name, rev)
		created, err := s.defs.create(ctx, defKey(name, rev), def)
		if err != nil {
			return nil, err
		}
		if created {
			s.log.InfoContext(ctx, "job definition registered", "name", name, "revision", rev)
			return &batch.RegisterJobDefinitionOutput{JobDefinitionName: name, JobDefinitionArn: def.JobDefinitionArn, Revision: rev}, nil
		}
		rev++
	}
	return nil, fmt.Errorf("register %s: no free revision found after %d attempts", name, 10*maxCASAttempts)
}

// defSortKey orders definitions by name, newest revision first.
func defSortKey(d *batch.JobDefinition) string {
	return fmt.Sprintf("%s\x00%010d", d.JobDefinitionName, 1<<31-d.Revision)
}

// describeJobDefinitions is the DescribeJobDefinitions operation.
func (s *Server) describeJobDefinitions(ctx context.Context, in *batch.DescribeJobDefinitionsInput) (*batch.DescribeJobDefinitionsOutput, error) {
	if len(in.JobDefinitions) > maxDescribeItems {
		return nil, clientErr("jobDefinitions lists %d entries: at most %d are allowed", len(in.JobDefinitions), maxDescribeItems)
	}
	if err := checkEnum("status", in.Status, defActive, defInactive); err != nil {
		return nil, err
	}
	var defs []*batch.JobDefinition
	addFamily := func(name string) error {
		revs, err := s.defs.family(ctx, name)
		if err != nil {
			return err
		}
		for _, rev := range revs {
			if d, ok := s.defs.get(defKey(name, rev)); ok {
				defs = append(defs, d)
			}
		}
		return nil
	}
	switch {
	case len(in.JobDefinitions) > 0:
		for _, ref := range in.JobDefinitions {
			name, revStr, hasRev := strings.Cut(batch.NameFromRef(batch.KindJobDefinition, ref), ":")
			if !validName(name) {
				continue
			}
			if !hasRev {
				if err := addFamily(name); err != nil {
					return nil, err
				}
				continue
			}
			rev, err := strconv.Atoi(revStr)
			if err != nil || rev < 1 {
				return nil, clientErr("jobDefinitions entry %s has an invalid revision %q: use name:revision or an ARN", ref, revStr)
			}
			d, err := s.defs.load(ctx, defKey(name, rev))
			if errors.Is(err, errNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			defs = append(defs, d)
		}
	case in.JobDefinitionName != "":
		if err := addFamily(in.JobDefinitionName); err != nil {
			return nil, err
		}
	default:
		for _, e := range s.defs.list() {
			defs = append(defs, e.v)
		}
	}
	defs = slices.DeleteFunc(defs, func(d *batch.JobDefinition) bool { return in.Status != "" && d.Status != in.Status })
	slices.SortFunc(defs, func(a, b *batch.JobDefinition) int { return strings.Compare(defSortKey(a), defSortKey(b)) })
	defs = slices.CompactFunc(defs, func(a, b *batch.JobDefinition) bool { return a.JobDefinitionArn == b.JobDefinitionArn })
	page, next, err := paginate(defs, defSortKey, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &batch.DescribeJobDefinitionsOutput{JobDefinitions: make([]batch.JobDefinition, 0, len(page)), NextToken: next}
	for _, d := range page {
		out.JobDefinitions = append(out.JobDefinitions, *d)
	}
	return out, nil
}
