package plan

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

// Gang placement of multi-node parallel jobs. The job (the parent) waits
// in its queue like any job, and counts like one for the queue's, the
// share's and the environment's limits (with the vCPUs of all its nodes);
// its nodes "<job>#<n>" hold the capacity of their hosts. The rule:
//
//   - every node of an attempt is placed in the same pass, in one
//     compute environment, or none is: a gang that does not fit holds
//     nothing, so two big gangs cannot each hold part of the room the
//     other waits for;
//   - nodes go to different hosts where they can (fewest nodes of the gang
//     on a host first, then the most free vCPUs), and share hosts where
//     they must;
//   - a gang that could not fit even on idle hosts says so (a
//     MISCONFIGURATION reason), one that waits for room says that;
//   - the next attempt is placed only once every node of the last one has
//     stopped: a node runs one attempt at a time.

// NodeNeed is what one node of a gang asks of its host.
type NodeNeed struct {
	VCPU      Milli
	MemoryMiB int64
	GPUs      int
}

// NodeSpot is where a node of a gang placement goes.
type NodeSpot struct {
	Index int
	Host  string
}

// SetNodes makes j a gang of the given nodes: its VCPU, MemoryMiB and GPUs
// become the sums (what it holds of its environment and queue).
func (j *Job) SetNodes(nodes []NodeNeed) {
	j.Nodes = nodes
	j.VCPU, j.MemoryMiB, j.GPUs = 0, 0, 0
	var b strings.Builder
	for _, n := range nodes {
		j.VCPU += n.VCPU
		j.MemoryMiB += n.MemoryMiB
		j.GPUs += n.GPUs
		fmt.Fprintf(&b, "%d/%d/%d;", n.VCPU, n.MemoryMiB, n.GPUs)
	}
	j.gangSig = b.String()
}

// gang reports whether the job is a multi-node job (placed as a gang).
func (j *Job) gang() bool { return len(j.Nodes) > 0 }

// nodeIDs are the ids of a gang's nodes.
func (j *Job) nodeID(i int) string { return batch.NodeID(j.ID, i) }

// gangShape is a gang's shape: the smallest of its nodes (what the queue's
// smallest-job test may compare) and its signature.
func gangShape(j *Job) shape {
	sh := shape{queue: j.Queue, vcpu: j.Nodes[0].VCPU, mem: j.Nodes[0].MemoryMiB, gpus: j.Nodes[0].GPUs, gang: j.gangSig}
	for _, n := range j.Nodes[1:] {
		sh.vcpu, sh.mem, sh.gpus = min(sh.vcpu, n.VCPU), min(sh.mem, n.MemoryMiB), min(sh.gpus, n.GPUs)
	}
	return sh
}

// nodesBusy reports whether a node of the gang still holds its host (an
// earlier attempt that has not stopped yet).
func (s *State) nodesBusy(j *Job) bool {
	for i := range j.Nodes {
		if n := s.Jobs[j.nodeID(i)]; n != nil && n.occupies() {
			return true
		}
	}
	return false
}

// hostUse is what a pass holds of a host plus what the gang being packed
// has taken of it.
type hostUse struct {
	cpu  Milli
	mem  int64
	gpus int
	n    int // nodes of this gang
}

// packNodes puts every node on a host serving env, given what each host
// holds already (used); ok false when some node finds no room.
func packNodes(hosts []*events.Host, env string, nodes []NodeNeed, used func(host string) hostUse) ([]NodeSpot, bool) {
	var cands []*events.Host
	for _, h := range hosts {
		if h.Serves(env) {
			cands = append(cands, h)
		}
	}
	if len(cands) == 0 {
		return nil, false
	}
	use := make(map[string]*hostUse, len(cands))
	for _, h := range cands {
		u := used(h.ID)
		u.n = 0
		use[h.ID] = &u
	}
	// The largest nodes first: they have the fewest choices.
	order := make([]int, len(nodes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if c := cmp.Compare(nodes[b].VCPU, nodes[a].VCPU); c != 0 {
			return c
		}
		return cmp.Compare(nodes[b].MemoryMiB, nodes[a].MemoryMiB)
	})
	spots := make([]NodeSpot, len(nodes))
	for _, i := range order {
		n := nodes[i]
		var best *events.Host
		var bestUse *hostUse
		for _, h := range cands {
			u := use[h.ID]
			free := ToMilli(h.VCPUs) - u.cpu
			if free < n.VCPU || h.MemoryMiB-u.mem < n.MemoryMiB || h.GPUs-u.gpus < n.GPUs {
				continue
			}
			if best == nil || u.n < bestUse.n || (u.n == bestUse.n && free > ToMilli(best.VCPUs)-bestUse.cpu) {
				best, bestUse = h, u
			}
		}
		if best == nil {
			return nil, false
		}
		bestUse.cpu += n.VCPU
		bestUse.mem += n.MemoryMiB
		bestUse.gpus += n.GPUs
		bestUse.n++
		spots[i] = NodeSpot{Index: i, Host: best.ID}
	}
	return spots, true
}

// fitGang places every node of a gang in the first of the queue's
// environments that has room for all of them.
func (s *State) fitGang(p *pass, q *Queue, j *Job) (Placement, bool) {
	used := func(h string) hostUse { return hostUse{cpu: p.cpu[h], mem: p.mem[h], gpus: p.gpus[h]} }
	for _, name := range q.Envs {
		e := s.Envs[name]
		if e == nil || !e.Enabled {
			continue
		}
		if e.MaxVCPU > 0 && p.env[name]+j.VCPU > e.MaxVCPU {
			continue
		}
		if spots, ok := packNodes(p.hosts, name, j.Nodes, used); ok {
			return Placement{Job: j, Attempt: j.Attempts + 1, Env: name, Nodes: spots}, true
		}
	}
	return Placement{}, false
}

// placeGang records a gang placement: the job holds its environment and
// queue, each node its host, until the records show them.
func (s *State) placeGang(p *pass, pl Placement) {
	for _, n := range s.placeNodes(pl.Job, pl.Attempt, pl.Env, pl.Nodes) {
		p.holdHost(n)
	}
}

// placeNodes makes each node of a gang hold its host for the attempt.
func (s *State) placeNodes(j *Job, attempt int, env string, spots []NodeSpot) []*Job {
	out := make([]*Job, 0, len(spots))
	for _, spot := range spots {
		if spot.Index < 0 || spot.Index >= len(j.Nodes) {
			continue
		}
		id := j.nodeID(spot.Index)
		n := s.Jobs[id]
		if n == nil {
			n = &Job{ID: id, Queue: j.Queue, Node: true, Attempts: attempt - 1}
			s.Jobs[id] = n
		}
		need := j.Nodes[spot.Index]
		n.VCPU, n.MemoryMiB, n.GPUs = need.VCPU, need.MemoryMiB, need.GPUs
		n.Placed, n.Host, n.Env = attempt, spot.Host, env
		s.track(n)
		out = append(out, n)
	}
	return out
}

// AdoptGang is Adopt for a gang placement another replica published: the
// job and its nodes hold what it placed.
func (s *State) AdoptGang(id string, attempt int, env string, spots []NodeSpot) bool {
	j := s.Jobs[id]
	if j == nil || !j.gang() || j.Status != batch.StatusRunnable || j.Attempts+1 != attempt || len(spots) != len(j.Nodes) {
		return false
	}
	same := j.Placed == attempt && j.Env == env
	for _, spot := range spots {
		if n := s.Jobs[j.nodeID(spot.Index)]; n == nil || n.Placed != attempt || n.Host != spot.Host {
			same = false
		}
	}
	if same {
		return false
	}
	j.Placed, j.Env, j.Reason = attempt, env, ""
	if j.list != nil {
		j.list.stale = true
	}
	s.track(j)
	s.placeNodes(j, attempt, env, spots)
	s.Touch()
	return true
}

// unplaceGang takes back the node placements of a gang that could not be
// published.
func (s *State) unplaceGang(j *Job) {
	for i := range j.Nodes {
		if n := s.Jobs[j.nodeID(i)]; n != nil && n.Placed != 0 {
			n.Placed = 0
			if n.Status == "" {
				delete(s.Jobs, n.ID)
				delete(s.occ, n.ID)
				continue
			}
			s.track(n)
		}
	}
}

// holdHost counts what a job holds of its host.
func (p *pass) holdHost(j *Job) {
	p.cpu[j.Host] += j.VCPU
	p.mem[j.Host] += j.MemoryMiB
	p.gpus[j.Host] += j.GPUs
}

// gangStaticReason says why a gang can never run on the queue's
// environments and hosts as they are, "" when it fits idle ones.
func (s *State) gangStaticReason(p *pass, q *Queue, j *Job) string {
	anyEnabled, envFits, served := false, false, false
	var off []string
	idle := func(string) hostUse { return hostUse{} }
	for _, name := range q.Envs {
		e := s.Envs[name]
		switch {
		case e == nil:
			off = append(off, name+" does not exist")
			continue
		case !e.Enabled:
			off = append(off, name+" is DISABLED")
			continue
		}
		anyEnabled = true
		if e.MaxVCPU != 0 && j.VCPU > e.MaxVCPU {
			continue
		}
		envFits = true
		for _, h := range p.hosts {
			if h.Serves(name) {
				served = true
				break
			}
		}
		if _, ok := packNodes(p.hosts, name, j.Nodes, idle); ok {
			return ""
		}
	}
	switch {
	case !anyEnabled:
		return fmt.Sprintf("%s - no compute environment of job queue %s is ENABLED (%s).", ReasonInvalidEnvs, q.Name, strings.Join(off, ", "))
	case !envFits:
		return fmt.Sprintf("%s - the %d nodes of the job need %g vCPUs together, more than the maxvCpus of every ENABLED compute environment of job queue %s.",
			ReasonEnvMaxResource, len(j.Nodes), j.VCPU.Float(), q.Name)
	case served:
		return fmt.Sprintf("%s - the hosts of the compute environments of job queue %s cannot hold the %d nodes of the job (%s) even when idle.",
			ReasonJobRequirement, q.Name, len(j.Nodes), nodeNeeds(j))
	}
	return fmt.Sprintf("%s: no host serves the ENABLED compute environments of job queue %s yet.", WaitHost, q.Name)
}

// nodeNeeds describes what the nodes of a gang ask of their hosts.
func nodeNeeds(j *Job) string {
	var parts []string
	for i := 0; i < len(j.Nodes); {
		k := i
		for k < len(j.Nodes) && j.Nodes[k] == j.Nodes[i] {
			k++
		}
		n := j.Nodes[i]
		one := &Job{VCPU: n.VCPU, MemoryMiB: n.MemoryMiB, GPUs: n.GPUs}
		what := "node " + strconv.Itoa(i)
		if k-i > 1 {
			what = fmt.Sprintf("nodes %d to %d", i, k-1)
		}
		parts = append(parts, fmt.Sprintf("%s: %s each", what, needs(one)))
		i = k
	}
	return strings.Join(parts, "; ")
}

// reasonNodesBusy: the last attempt's nodes have not all stopped yet.
func reasonNodesBusy(j *Job) string {
	return fmt.Sprintf("%s: the nodes of attempt %d of multi-node job %s are still stopping.", WaitCapacity, j.Attempts, j.ID)
}
