package scheduler

import (
	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/services/scheduler/internal/plan"
	"github.com/segmentio/encoding/json"
)

// planNodes fills in the multi-node part of a job's planner view: a
// multi-node job is a gang of its nodes' needs; a node's record only
// holds its host.
func planNodes(rec *batch.JobDetail, j *plan.Job) {
	switch {
	case rec.IsMultiNodeParent():
		res := rec.NodeProperties.NodeResources()
		nodes := make([]plan.NodeNeed, len(res))
		for i, r := range res {
			nodes[i] = plan.NodeNeed{VCPU: plan.ToMilli(r.VCPUs), MemoryMiB: r.MemoryMiB, GPUs: r.GPUs}
		}
		j.SetNodes(nodes)
		j.Host = ""
	case rec.IsNode():
		j.Node = true
	}
}

// adoptGang adopts a stored gang placement (another replica's).
func (s *scheduler) adoptGang(data []byte) bool {
	var g events.JobNodesPlaced
	if json.Unmarshal(data, &g) != nil {
		return false
	}
	spots := make([]plan.NodeSpot, len(g.Nodes))
	for i, n := range g.Nodes {
		spots[i] = plan.NodeSpot{Index: n.Index, Host: n.HostID}
	}
	return s.state.AdoptGang(g.JobID, g.Attempt, g.ComputeEnvironment, spots)
}

// gangPlacement is the message of a gang placement: every node's host and
// the address other hosts reach it at.
func (s *scheduler) gangPlacement(p plan.Placement, now int64) events.JobNodesPlaced {
	ev := events.JobNodesPlaced{JobID: p.Job.ID, Attempt: p.Attempt, ComputeEnvironment: p.Env, JobQueue: p.Job.Queue, Time: now}
	for _, n := range p.Nodes {
		np := events.NodePlacement{Index: n.Index, HostID: n.Host}
		if h := s.state.Hosts[n.Host]; h != nil {
			np.HostAddress = h.Address
		}
		ev.Nodes = append(ev.Nodes, np)
	}
	return ev
}
