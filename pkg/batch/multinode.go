package batch

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Multi-node parallel jobs (AWS "MNP"): a job definition of type multinode
// describes numNodes nodes in nodeRangeProperties; a job of it has one
// record for the whole job (the parent, with NodeProperties) and one per
// node, "<parent>#<index>" (with NodeDetails). docs/architecture.md says
// which service writes which.

// Limits of multi-node parallel jobs (AWS: up to 1000 nodes, 5 node groups).
const (
	MaxNodes      = 1000
	MaxNodeRanges = 5
)

// NodeProperties is the nodeProperties of a job definition and of a
// multi-node job's record.
type NodeProperties struct {
	NumNodes            int                 `json:"numNodes"`
	MainNode            int                 `json:"mainNode"`
	NodeRangeProperties []NodeRangeProperty `json:"nodeRangeProperties"`
}

// NodeRangeProperty is what a range of nodes runs: a container, or a task
// of several containers (ecsProperties: each node a pod).
type NodeRangeProperty struct {
	TargetNodes   string               `json:"targetNodes"`
	Container     *ContainerProperties `json:"container,omitempty"`
	EcsProperties *EcsProperties       `json:"ecsProperties,omitempty"`
	InstanceTypes []string             `json:"instanceTypes,omitempty"`
	// Refused at registration for now (a clear ClientException).
	EksProperties                json.RawMessage               `json:"eksProperties,omitempty"`
	ConsumableResourceProperties *ConsumableResourceProperties `json:"consumableResourceProperties,omitempty"`
}

// NodeOverrides is SubmitJob's nodeOverrides.
type NodeOverrides struct {
	// NumNodes replaces the definition's numNodes; it needs an open-ended
	// range ("n:") whose start is below it, and must exceed mainNode.
	NumNodes              *int                   `json:"numNodes,omitempty"`
	NodePropertyOverrides []NodePropertyOverride `json:"nodePropertyOverrides,omitempty"`
}

// NodePropertyOverride changes the container (containerOverrides) or the
// task (ecsPropertiesOverride) of a range of nodes.
type NodePropertyOverride struct {
	TargetNodes           string                 `json:"targetNodes"`
	ContainerOverrides    *ContainerOverrides    `json:"containerOverrides,omitempty"`
	EcsPropertiesOverride *EcsPropertiesOverride `json:"ecsPropertiesOverride,omitempty"`
	InstanceTypes         []string               `json:"instanceTypes,omitempty"`
	// Refused at submit for now.
	EksPropertiesOverride                json.RawMessage               `json:"eksPropertiesOverride,omitempty"`
	ConsumableResourcePropertiesOverride *ConsumableResourceProperties `json:"consumableResourcePropertiesOverride,omitempty"`
}

// NodeDetails is set on the record of a node.
type NodeDetails struct {
	NodeIndex  int  `json:"nodeIndex"`
	IsMainNode bool `json:"isMainNode"`
}

// NodePropertiesSummary is the node part of a ListJobs entry: numNodes on
// the parent, nodeIndex and isMainNode on a node.
type NodePropertiesSummary struct {
	IsMainNode bool `json:"isMainNode,omitempty"`
	NumNodes   int  `json:"numNodes,omitempty"`
	NodeIndex  *int `json:"nodeIndex,omitempty"`
}

// NetworkInterface is an address of a job's container: for a node, the
// address of its host (AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS of
// the main node).
type NetworkInterface struct {
	AttachmentID       string `json:"attachmentId,omitempty"`
	Ipv6Address        string `json:"ipv6Address,omitempty"`
	PrivateIpv4Address string `json:"privateIpv4Address,omitempty"`
}

// NodeRange is an inclusive range of node indexes.
type NodeRange struct {
	From, To int
	// Open: written "n:" or ":", it reaches the last node whatever
	// numNodes is.
	Open bool
}

// Contains reports whether node i is in the range.
func (r NodeRange) Contains(i int) bool { return i >= r.From && i <= r.To }

// String writes the range as targetNodes ("2", "0:3").
func (r NodeRange) String() string {
	if r.From == r.To {
		return strconv.Itoa(r.From)
	}
	return strconv.Itoa(r.From) + ":" + strconv.Itoa(r.To)
}

// ParseTargetNodes reads a targetNodes range for a job of numNodes nodes:
// "k", "a:b", ":b" (from 0), "a:" (to the last node) or ":" (all).
func ParseTargetNodes(s string, numNodes int) (NodeRange, error) {
	num := func(v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || strings.TrimSpace(v) != v || strings.HasPrefix(v, "+") {
			return 0, fmt.Errorf("targetNodes %q is not a node range: write k, a:b, :b, a: or : with node indexes from 0", s)
		}
		return n, nil
	}
	var r NodeRange
	from, to, ranged := strings.Cut(s, ":")
	var err error
	switch {
	case s == "":
		return r, fmt.Errorf("targetNodes is required: write k, a:b, :b, a: or : with node indexes from 0")
	case !ranged:
		if r.From, err = num(s); err != nil {
			return r, err
		}
		r.To = r.From
	default:
		if from != "" {
			if r.From, err = num(from); err != nil {
				return r, err
			}
		}
		if to == "" {
			r.To, r.Open = numNodes-1, true
		} else if r.To, err = num(to); err != nil {
			return r, err
		}
	}
	switch {
	case r.From >= numNodes:
		return r, fmt.Errorf("targetNodes %q starts at node %d, but the job has %d nodes (0 to %d)", s, r.From, numNodes, numNodes-1)
	case r.To >= numNodes:
		return r, fmt.Errorf("targetNodes %q ends at node %d, but the job has %d nodes (0 to %d)", s, r.To, numNodes, numNodes-1)
	case r.From > r.To:
		return r, fmt.Errorf("targetNodes %q is empty: its start is after its end", s)
	}
	return r, nil
}

// ResolveNodeRanges returns, for each of numNodes nodes, the index of the
// range that governs it: the last range that contains it (later ranges
// override earlier ones, as nested ranges do in AWS). Every node must be
// in some range.
func ResolveNodeRanges(numNodes int, targets []string) ([]int, error) {
	owner := make([]int, numNodes)
	for i := range owner {
		owner[i] = -1
	}
	for k, t := range targets {
		r, err := ParseTargetNodes(t, numNodes)
		if err != nil {
			return nil, fmt.Errorf("nodeRangeProperties[%d]: %w", k, err)
		}
		for i := r.From; i <= r.To; i++ {
			owner[i] = k
		}
	}
	var missing []string
	for i, o := range owner {
		if o < 0 {
			missing = append(missing, strconv.Itoa(i))
		}
	}
	if len(missing) > 0 {
		if len(missing) > 10 {
			missing = append(missing[:10], "...")
		}
		return nil, fmt.Errorf("node(s) %s of the %d nodes are in no targetNodes range: the ranges together must cover 0 to %d",
			strings.Join(missing, ", "), numNodes, numNodes-1)
	}
	return owner, nil
}

// NodeRange returns the range that governs node i: the last one that
// contains it, nil when none does.
func (np *NodeProperties) NodeRange(i int) *NodeRangeProperty {
	for k := len(np.NodeRangeProperties) - 1; k >= 0; k-- {
		r, err := ParseTargetNodes(np.NodeRangeProperties[k].TargetNodes, np.NumNodes)
		if err == nil && r.Contains(i) {
			return &np.NodeRangeProperties[k]
		}
	}
	return nil
}

// NodeContainer returns the container of node i (nil when its range runs
// a task, or no range contains it).
func (np *NodeProperties) NodeContainer(i int) *ContainerProperties {
	if r := np.NodeRange(i); r != nil {
		return r.Container
	}
	return nil
}

// NodeTask returns the task of node i when its range runs one
// (ecsProperties), else nil.
func (np *NodeProperties) NodeTask(i int) *EcsTaskProperties {
	if r := np.NodeRange(i); r != nil && r.EcsProperties != nil && len(r.EcsProperties.TaskProperties) > 0 {
		return &r.EcsProperties.TaskProperties[0]
	}
	return nil
}

// ParseNodeProperties decodes a definition's raw nodeProperties.
func ParseNodeProperties(raw json.RawMessage) (*NodeProperties, error) {
	var np NodeProperties
	if err := json.Unmarshal(raw, &np); err != nil {
		return nil, fmt.Errorf("nodeProperties is malformed: %v", err)
	}
	return &np, nil
}

// NodeID names node index of a multi-node job.
func NodeID(parent string, index int) string { return parent + "#" + itoa(index) }

// MultiNodeParentOf returns the multi-node job of a node id ("p#3" -> "p",
// 3, true).
func MultiNodeParentOf(jobID string) (parent string, index int, ok bool) {
	i := strings.LastIndexByte(jobID, '#')
	if i <= 0 || i == len(jobID)-1 || len(jobID)-i > 5 {
		return "", 0, false
	}
	n := 0
	for _, c := range jobID[i+1:] {
		if c < '0' || c > '9' {
			return "", 0, false
		}
		n = n*10 + int(c-'0')
	}
	return jobID[:i], n, true
}

// IsMultiNodeParent reports whether the record is a multi-node job (not
// one of its nodes).
func (j *JobDetail) IsMultiNodeParent() bool { return j.NodeProperties != nil && j.NodeDetails == nil }

// IsNode reports whether the record is a node of a multi-node job.
func (j *JobDetail) IsNode() bool { return j.NodeDetails != nil }

// Detail is the resolved container of a node's record made from its
// range's container.
func (p *ContainerProperties) Detail() ContainerDetail {
	return ContainerDetail{
		Image: p.Image, Vcpus: p.Vcpus, Memory: p.Memory, Command: p.Command, JobRoleArn: p.JobRoleArn,
		ExecutionRoleArn: p.ExecutionRoleArn, Environment: p.Environment, ReadonlyRootFilesystem: p.ReadonlyRootFilesystem,
		Privileged: p.Privileged, User: p.User, ResourceRequirements: p.ResourceRequirements,
		Volumes: p.Volumes, MountPoints: p.MountPoints, Ulimits: p.Ulimits, LinuxParameters: p.LinuxParameters,
		LogConfiguration: p.LogConfiguration, Secrets: p.Secrets, NetworkConfiguration: p.NetworkConfiguration,
		FargatePlatformConfiguration: p.FargatePlatformConfiguration, EphemeralStorage: p.EphemeralStorage,
		RuntimePlatform: p.RuntimePlatform, RepositoryCredentials: p.RepositoryCredentials,
	}
}

// Properties is the inverse of Detail: the container part of a resolved
// container, as a node range stores it.
func (c *ContainerDetail) Properties() ContainerProperties {
	return ContainerProperties{
		Image: c.Image, Vcpus: c.Vcpus, Memory: c.Memory, Command: c.Command, JobRoleArn: c.JobRoleArn,
		ExecutionRoleArn: c.ExecutionRoleArn, Environment: c.Environment, ReadonlyRootFilesystem: c.ReadonlyRootFilesystem,
		Privileged: c.Privileged, User: c.User, ResourceRequirements: c.ResourceRequirements,
		Volumes: c.Volumes, MountPoints: c.MountPoints, Ulimits: c.Ulimits, LinuxParameters: c.LinuxParameters,
		LogConfiguration: c.LogConfiguration, Secrets: c.Secrets, NetworkConfiguration: c.NetworkConfiguration,
		FargatePlatformConfiguration: c.FargatePlatformConfiguration, EphemeralStorage: c.EphemeralStorage,
		RuntimePlatform: c.RuntimePlatform, RepositoryCredentials: c.RepositoryCredentials,
	}
}

// NodeResources returns what each node of a multi-node job needs: its
// container's, or the sum of its task's containers'.
func (np *NodeProperties) NodeResources() []Resources {
	out := make([]Resources, np.NumNodes)
	for i := range out {
		r := np.NodeRange(i)
		switch {
		case r == nil:
		case r.Container != nil:
			out[i], _ = ParseResources(r.Container.ResourceRequirements, r.Container.Vcpus, r.Container.Memory)
		case np.NodeTask(i) != nil:
			out[i] = np.NodeTask(i).Resources()
		}
	}
	return out
}
