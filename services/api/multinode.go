package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/batchd/batchd/pkg/batch"
)

// Multi-node parallel jobs at registration and at submit. Everything here
// is a pure function.

// checkNodeProperties validates the nodeProperties of a multinode job
// definition: numNodes, mainNode, and ranges that each give a container
// and together cover every node.
func checkNodeProperties(raw json.RawMessage) error {
	np, err := decodeNodeProperties(raw)
	if err != nil {
		return err
	}
	if np.NumNodes < 1 || np.NumNodes > batch.MaxNodes {
		return clientErr("nodeProperties.numNodes %d is out of range: use 1 to %d", np.NumNodes, batch.MaxNodes)
	}
	if np.MainNode < 0 || np.MainNode >= np.NumNodes {
		return clientErr("nodeProperties.mainNode %d must be a node index below numNodes %d", np.MainNode, np.NumNodes)
	}
	_, err = checkNodeRanges(np, np.NumNodes)
	return err
}

func decodeNodeProperties(raw json.RawMessage) (*batch.NodeProperties, error) {
	np, err := batch.ParseNodeProperties(raw)
	if err != nil {
		return nil, clientErr("%v: give numNodes, mainNode and nodeRangeProperties", err)
	}
	return np, nil
}

// checkNodeRanges validates every range of np for a job of numNodes nodes
// and returns, per node, the range that governs it.
func checkNodeRanges(np *batch.NodeProperties, numNodes int) ([]int, error) {
	switch n := len(np.NodeRangeProperties); {
	case n == 0:
		return nil, clientErr("nodeProperties.nodeRangeProperties is required: give at least one range, for example {\"targetNodes\":\"0:\",\"container\":{...}}")
	case n > batch.MaxNodeRanges:
		return nil, clientErr("nodeProperties.nodeRangeProperties has %d ranges: at most %d node groups are allowed", n, batch.MaxNodeRanges)
	}
	targets := make([]string, len(np.NodeRangeProperties))
	for k, r := range np.NodeRangeProperties {
		field := fmt.Sprintf("nodeProperties.nodeRangeProperties[%d]", k)
		targets[k] = r.TargetNodes
		if _, err := batch.ParseTargetNodes(r.TargetNodes, numNodes); err != nil {
			return nil, clientErr("%s: %v", field, err)
		}
		switch {
		case present(r.EksProperties):
			return nil, clientErr("%s uses eksProperties: EKS node ranges are not supported; give a container or ecsProperties", field)
		case r.ConsumableResourceProperties != nil && len(r.ConsumableResourceProperties.ConsumableResourceList) > 0:
			return nil, clientErr("%s has consumableResourceProperties: per-range consumable resources are not supported yet; give them for the whole job in the definition's consumableResourceProperties", field)
		case len(r.InstanceTypes) > 1:
			return nil, clientErr("%s.instanceTypes has %d entries: at most one is allowed", field, len(r.InstanceTypes))
		case r.Container != nil && r.EcsProperties != nil:
			return nil, clientErr("%s gives both container and ecsProperties: give one, the container or the task its nodes run", field)
		case r.EcsProperties != nil:
			if _, err := checkRangeTask(field, r.EcsProperties); err != nil {
				return nil, err
			}
			continue
		case r.Container == nil:
			return nil, clientErr("%s has no container: give the container its nodes run (or ecsProperties, a task of several containers)", field)
		}
		c := cleanContainer(*r.Container)
		if c.Image == "" {
			return nil, clientErr("%s.container.image is required: give the container image to run, for example busybox:latest", field)
		}
		if err := checkEnvironment(field+".container.environment", c.Environment); err != nil {
			return nil, err
		}
		if _, err := checkResources(field+".container", c.ResourceRequirements, c.Vcpus, c.Memory, false); err != nil {
			return nil, err
		}
	}
	owner, err := batch.ResolveNodeRanges(numNodes, targets)
	if err != nil {
		return nil, clientErr("nodeProperties: %v", err)
	}
	return owner, nil
}

// checkRangeTask validates the ecsProperties of a node range as a
// multi-container job's (on EC2: multi-node jobs do not run on FARGATE)
// and returns them normalized; errors name the range.
func checkRangeTask(field string, p *batch.EcsProperties) (*batch.EcsProperties, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, clientErr("%s.ecsProperties: %v", field, err)
	}
	out, err := checkEcsProperties(raw, false)
	if err != nil {
		return nil, withField(field, err)
	}
	return out, nil
}

// withField prefixes a ClientException's message with the field it is
// about.
func withField(field string, err error) error {
	var ae *apiError
	if errors.As(err, &ae) {
		c := *ae
		c.Message = field + ": " + ae.Message
		return &c
	}
	return err
}

// checkMultiNodeSubmit refuses what a multi-node job cannot take at
// submit.
func checkMultiNodeSubmit(def *batch.JobDefinition, in *batch.SubmitJobInput) error {
	if !present(def.NodeProperties) {
		return nil
	}
	if in.ArrayProperties != nil && in.ArrayProperties.Size != 0 {
		return clientErr("job definition %s is a multi-node parallel job: it cannot run as an array job; leave arrayProperties out", def.JobDefinitionArn)
	}
	return nil
}

// resolveNodeProperties applies nodeOverrides and the parameters to a
// multinode definition. The result lists disjoint ranges in node order,
// each with its container fully resolved (overrides applied, Ref::
// substituted, VCPU and MEMORY stated), nodes with the same definition
// range and the same overrides sharing one range.
func resolveNodeProperties(def *batch.JobDefinition, rawOverrides json.RawMessage, params map[string]string) (*batch.NodeProperties, error) {
	np, err := decodeNodeProperties(def.NodeProperties)
	if err != nil {
		return nil, err
	}
	var ov *batch.NodeOverrides
	if present(rawOverrides) {
		ov = &batch.NodeOverrides{}
		if err := json.Unmarshal(rawOverrides, ov); err != nil {
			return nil, clientErr("nodeOverrides is malformed: %v", err)
		}
	}
	numNodes := np.NumNodes
	if ov != nil && ov.NumNodes != nil {
		if numNodes, err = overrideNumNodes(np, *ov.NumNodes); err != nil {
			return nil, err
		}
	}
	owner, err := checkNodeRanges(np, numNodes)
	if err != nil {
		return nil, err
	}
	// Which overrides apply to each node, in order.
	var overrides []batch.NodePropertyOverride
	if ov != nil {
		overrides = ov.NodePropertyOverrides
	}
	applies := make([][]int, numNodes)
	for k, o := range overrides {
		field := fmt.Sprintf("nodeOverrides.nodePropertyOverrides[%d]", k)
		r, err := batch.ParseTargetNodes(o.TargetNodes, numNodes)
		if err != nil {
			return nil, clientErr("%s: %v", field, err)
		}
		if err := checkNodeOverride(field, o); err != nil {
			return nil, err
		}
		for i := r.From; i <= r.To; i++ {
			applies[i] = append(applies[i], k)
		}
	}
	out := &batch.NodeProperties{NumNodes: numNodes, MainNode: np.MainNode}
	start := 0
	for i := 1; i <= numNodes; i++ {
		if i < numNodes && owner[i] == owner[start] && slices.Equal(applies[i], applies[start]) {
			continue
		}
		rng := batch.NodeRange{From: start, To: i - 1}
		src := np.NodeRangeProperties[owner[start]]
		if src.EcsProperties != nil {
			r, err := resolveRangeTask(rng, src, overrides, applies[start], params)
			if err != nil {
				return nil, err
			}
			out.NodeRangeProperties = append(out.NodeRangeProperties, r)
			start = i
			continue
		}
		var merged *batch.ContainerOverrides
		for _, k := range applies[start] {
			if overrides[k].EcsPropertiesOverride != nil {
				return nil, clientErr("nodeOverrides.nodePropertyOverrides[%d].ecsPropertiesOverride: nodes %s run a container, not ecsProperties: use containerOverrides", k, rng)
			}
			merged = mergeContainerOverrides(merged, overrides[k].ContainerOverrides)
		}
		p := cleanContainer(*src.Container)
		c := resolveContainer(&p, merged, params)
		res, err := checkResources(fmt.Sprintf("nodes %s: container", rng), c.ResourceRequirements, c.Vcpus, c.Memory, false)
		if err != nil {
			return nil, err
		}
		c.ResourceRequirements = completeResources(c.ResourceRequirements, res)
		props := c.Properties()
		out.NodeRangeProperties = append(out.NodeRangeProperties, batch.NodeRangeProperty{
			TargetNodes: rng.String(), Container: &props, InstanceTypes: slices.Clone(src.InstanceTypes)})
		start = i
	}
	return out, nil
}

// resolveRangeTask resolves the task of the nodes rng: the range's
// ecsProperties with the ecsPropertiesOverride of each override that
// applies (in order) and the parameters, resources checked again.
func resolveRangeTask(rng batch.NodeRange, src batch.NodeRangeProperty, overrides []batch.NodePropertyOverride, applies []int,
	params map[string]string) (batch.NodeRangeProperty, error) {
	var ovs []*batch.EcsPropertiesOverride
	for _, k := range applies {
		o := overrides[k]
		if o.ContainerOverrides != nil {
			return batch.NodeRangeProperty{}, clientErr("nodeOverrides.nodePropertyOverrides[%d].containerOverrides: nodes %s run ecsProperties (a task), not a container: use ecsPropertiesOverride", k, rng)
		}
		if o.EcsPropertiesOverride != nil {
			ovs = append(ovs, o.EcsPropertiesOverride)
		}
	}
	raw, err := json.Marshal(src.EcsProperties)
	if err != nil {
		return batch.NodeRangeProperty{}, fmt.Errorf("encode the task of nodes %s: %w", rng, err)
	}
	d, err := resolveTaskWith(raw, ovs, "nodeOverrides ecsPropertiesOverride", params, false)
	if err != nil {
		return batch.NodeRangeProperty{}, withField("nodes "+rng.String(), err)
	}
	task := d.TaskProperties[0].Properties()
	return batch.NodeRangeProperty{TargetNodes: rng.String(), EcsProperties: &batch.EcsProperties{TaskProperties: []batch.EcsTaskProperties{task}},
		InstanceTypes: slices.Clone(src.InstanceTypes)}, nil
}

// overrideNumNodes checks nodeOverrides.numNodes the way AWS does: the
// definition needs a range with an open end ("n:") that starts below the
// new number, and mainNode must stay below it.
func overrideNumNodes(np *batch.NodeProperties, n int) (int, error) {
	if n < 1 || n > batch.MaxNodes {
		return 0, clientErr("nodeOverrides.numNodes %d is out of range: use 1 to %d", n, batch.MaxNodes)
	}
	open := -1
	for _, r := range np.NodeRangeProperties {
		if strings.HasSuffix(r.TargetNodes, ":") {
			open = 0
			if from, _, _ := strings.Cut(r.TargetNodes, ":"); from != "" {
				open, _ = strconv.Atoi(from) // checked at registration
			}
			if open < n {
				break
			}
		}
	}
	switch {
	case open < 0:
		return 0, clientErr("nodeOverrides.numNodes needs a job definition with an open-ended node range (\"n:\" or \":\"); the ranges of this one all end at a fixed node")
	case open >= n:
		return 0, clientErr("nodeOverrides.numNodes %d must be greater than the start %d of the definition's open-ended node range", n, open)
	case np.MainNode >= n:
		return 0, clientErr("nodeOverrides.numNodes %d must be greater than the definition's mainNode %d", n, np.MainNode)
	}
	return n, nil
}

// checkNodeOverride validates one nodePropertyOverrides entry.
func checkNodeOverride(field string, o batch.NodePropertyOverride) error {
	if o.EcsPropertiesOverride != nil {
		if o.ContainerOverrides != nil {
			return clientErr("%s gives both containerOverrides and ecsPropertiesOverride: give the one that fits what its nodes run", field)
		}
		raw, err := json.Marshal(o.EcsPropertiesOverride)
		if err != nil {
			return clientErr("%s.ecsPropertiesOverride: %v", field, err)
		}
		if _, err := checkEcsOverride(raw); err != nil {
			return withField(field, err)
		}
	}
	switch {
	case present(o.EksPropertiesOverride):
		return clientErr("%s.eksPropertiesOverride: EKS node ranges are not supported; use containerOverrides or ecsPropertiesOverride", field)
	case o.ConsumableResourcePropertiesOverride != nil:
		return clientErr("%s.consumableResourcePropertiesOverride: per-range consumable resources are not supported yet; use the job's consumableResourcePropertiesOverride", field)
	case len(o.InstanceTypes) > 0:
		return clientErr("%s.instanceTypes: hosts have no instance types here; leave it out", field)
	}
	ov := o.ContainerOverrides
	if ov == nil {
		return nil
	}
	if err := checkEnvironment(field+".containerOverrides.environment", ov.Environment); err != nil {
		return err
	}
	switch {
	case slices.Contains(ov.Command, ""):
		return clientErr("%s.containerOverrides.command has an empty string: every element must have text", field)
	case ov.Vcpus < 0 || ov.Memory < 0:
		return clientErr("%s.containerOverrides vcpus and memory must not be negative", field)
	case ov.Image != "" && strings.TrimSpace(ov.Image) != ov.Image:
		return clientErr("%s.containerOverrides.image %q has surrounding spaces: give the image reference alone", field, ov.Image)
	case ov.InstanceType != "":
		return clientErr("%s.containerOverrides.instanceType: hosts have no instance types here; leave it out", field)
	}
	return nil
}

// mergeContainerOverrides applies b on top of a (b wins field by field;
// environment and resources merge by name and type).
func mergeContainerOverrides(a, b *batch.ContainerOverrides) *batch.ContainerOverrides {
	switch {
	case b == nil:
		return a
	case a == nil:
		c := *b
		return &c
	}
	out := *a
	if b.Image != "" {
		out.Image = b.Image
	}
	if b.Command != nil {
		out.Command = b.Command
	}
	if b.Vcpus > 0 {
		out.Vcpus = b.Vcpus
	}
	if b.Memory > 0 {
		out.Memory = b.Memory
	}
	out.Environment = mergeEnvironment(a.Environment, b.Environment)
	out.ResourceRequirements = mergeResources(a.ResourceRequirements, b.ResourceRequirements)
	return &out
}

// checkNodeContainers checks the settings of every node range's resolved
// container as a single job's container is checked.
func (s *Server) checkNodeContainers(np *batch.NodeProperties) error {
	for _, r := range np.NodeRangeProperties {
		if r.EcsProperties != nil {
			if err := s.checkTaskSettings(fmt.Sprintf("nodes %s (definition and nodeOverrides)", r.TargetNodes), r.EcsProperties); err != nil {
				return err
			}
			continue
		}
		c := r.Container.Detail()
		if _, err := s.containerSpec(fmt.Sprintf("the container of nodes %s (definition and nodeOverrides)", r.TargetNodes), c.Settings()); err != nil {
			return err
		}
	}
	return nil
}

// checkNodeRangeSettings checks the container settings of every range of a
// definition's nodeProperties (validated by checkNodeProperties before).
func (s *Server) checkNodeRangeSettings(raw json.RawMessage) error {
	np, err := decodeNodeProperties(raw)
	if err != nil {
		return err
	}
	for k, r := range np.NodeRangeProperties {
		if r.EcsProperties != nil {
			if err := s.checkTaskSettings(fmt.Sprintf("nodeProperties.nodeRangeProperties[%d]", k), r.EcsProperties); err != nil {
				return err
			}
			continue
		}
		if r.Container == nil {
			continue
		}
		if _, err := s.containerSpec(fmt.Sprintf("nodeProperties.nodeRangeProperties[%d].container", k), r.Container.Settings()); err != nil {
			return err
		}
	}
	return nil
}

// checkTaskSettings checks the settings of each container of a node
// range's task as a single job's container is checked (with the task's
// volumes).
func (s *Server) checkTaskSettings(field string, p *batch.EcsProperties) error {
	if len(p.TaskProperties) == 0 {
		return nil
	}
	t := &p.TaskProperties[0]
	for i := range t.Containers {
		c := &t.Containers[i]
		if _, err := s.containerSpec(fmt.Sprintf("%s: the task's container %s", field, c.Name), c.Settings(t.Volumes, t.RuntimePlatform)); err != nil {
			return err
		}
	}
	return nil
}
