package events

import (
	"fmt"
	"strconv"

	"github.com/batchd/batchd/pkg/batch"
)

// TypeJobNodesPlaced is the Batch-Type of JobNodesPlaced.
const TypeJobNodesPlaced = "batch.job.v1.nodes-placed"

// The variables every node of a multi-node job gets (AWS's names);
// EnvMainNodeAddress only on the nodes other than the main one.
const (
	EnvNodeIndex       = "AWS_BATCH_JOB_NODE_INDEX"
	EnvNumNodes        = "AWS_BATCH_JOB_NUM_NODES"
	EnvMainNodeIndex   = "AWS_BATCH_JOB_MAIN_NODE_INDEX"
	EnvMainNodeAddress = "AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"
)

// JobNodesPlaced places every node of attempt Attempt of a RUNNABLE
// multi-node job at once (gang placement): the scheduler publishes it on
// GangSubject(JobID). The monitor records the nodes STARTING and sends
// each node's JobPlaced to its host: the main node's at once, the others'
// once the main node runs (AWS starts them in that order).
type JobNodesPlaced struct {
	JobID              string          `json:"jobId"`
	Attempt            int             `json:"attempt"`
	ComputeEnvironment string          `json:"computeEnvironment"`
	JobQueue           string          `json:"jobQueue"`
	Nodes              []NodePlacement `json:"nodes"`
	Time               int64           `json:"time"`
}

// NodePlacement is where one node runs.
type NodePlacement struct {
	Index  int    `json:"index"`
	HostID string `json:"hostId"`
	// HostAddress is the host's advertised address (events.Host.Address).
	HostAddress string `json:"hostAddress,omitempty"`
}

// MsgID is the de-duplication id of the gang: one per attempt, whatever
// the hosts, so a restarted scheduler cannot place a job's nodes twice.
func (e JobNodesPlaced) MsgID() string { return fmt.Sprintf("gang/%s/%d", e.JobID, e.Attempt) }

// PlacementOf builds the launch order of attempt Attempt of a job from its
// record: the resolved container, its environment plus the AWS_BATCH_*
// variables (and extra ones, which win), resources and time limit.
func PlacementOf(rec *batch.JobDetail, attempt int, host, env, queue string, extra map[string]string, now int64) JobPlaced {
	c := rec.Container
	if c == nil {
		c = &batch.ContainerDetail{}
	}
	spec, err := NewContainerSpec(c.Settings())
	if err != nil {
		// A record from before the api refused such settings: the
		// launcher fails the attempt with the reason.
		spec = ContainerSpec{Image: c.Image, Refused: err.Error()}
	}
	vars := spec.Environment
	if vars == nil {
		vars = map[string]string{}
	}
	vars["AWS_BATCH_JOB_ID"] = rec.JobID
	vars["AWS_BATCH_JOB_ATTEMPT"] = strconv.Itoa(attempt)
	vars["AWS_BATCH_JQ_NAME"] = queue
	vars["AWS_BATCH_CE_NAME"] = env
	if a := rec.ArrayProperties; a != nil && a.Index != nil {
		vars["AWS_BATCH_JOB_ARRAY_INDEX"] = strconv.Itoa(*a.Index)
	}
	for k, v := range extra {
		vars[k] = v
	}
	if rec.Timeout != nil {
		spec.TimeoutSeconds = rec.Timeout.AttemptDurationSeconds
	}
	placed := JobPlaced{JobID: rec.JobID, Attempt: attempt, HostID: host, ComputeEnvironment: env,
		JobQueue: queue, Time: now}
	if t := rec.EcsProperties.Task(); t != nil {
		// A multi-container job: every container with the same variables.
		placed.Task = TaskSpecOf(t, vars, spec.TimeoutSeconds)
		return placed
	}
	spec.Environment = vars
	placed.Container = spec
	return placed
}

// NodeEnvironment is what a node adds to the AWS_BATCH_* variables: its
// index, the number of nodes, the main node's index and, on the other
// nodes, the main node's address.
func NodeEnvironment(node batch.NodeDetails, numNodes, mainNode int, mainAddress string) map[string]string {
	vars := map[string]string{
		EnvNodeIndex:     strconv.Itoa(node.NodeIndex),
		EnvNumNodes:      strconv.Itoa(numNodes),
		EnvMainNodeIndex: strconv.Itoa(mainNode),
	}
	if !node.IsMainNode {
		vars[EnvMainNodeAddress] = mainAddress
	}
	return vars
}

// Subject, Type and Key make JobNodesPlaced an events.Keyed.
func (e JobNodesPlaced) Subject() string { return GangSubject(e.JobID) }
func (JobNodesPlaced) Type() string      { return TypeJobNodesPlaced }
func (e JobNodesPlaced) Key() string     { return e.JobID }
