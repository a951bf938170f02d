package monitor

import (
	"context"
	"errors"
	"fmt"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/encoding/json"
)

// Multi-node parallel jobs. The monitor writes the job's record (the
// parent) and one record per node, "<job>#<n>". Which facts drive what:
//
//   - the scheduler's gang placement (JobNodesPlaced) makes every node of
//     the attempt STARTING on its host, then the parent STARTING, then
//     sends the main node's placement to its launcher;
//   - the main node's start makes the parent RUNNING and sends the other
//     nodes' placements (with the main node's address): AWS starts them
//     once the main node runs;
//   - a node's exit ends that node (SUCCEEDED on exit code 0, else
//     FAILED; nodes are never retried on their own);
//   - the main node's exit ends the attempt of the parent with the main
//     node's result (retried as a whole by the job's retry strategy) and
//     stops the other nodes: those that run are stopped by their
//     launchers (marked terminated, as TerminateJob does), those never
//     sent to a launcher end at once;
//   - TerminateJob of the parent terminates every node of the attempt.
//
// Every step is idempotent: a redelivered fact finds the records as it
// left them and sends the same placements and stops again (de-duplicated
// by their message ids).

const (
	reasonMainNodeExited = "Main node exited"
	reasonMainNodeNotRun = "Main node exited before this node started"
)

// onGang applies a gang placement.
func (m *monitor) onGang(ctx context.Context, f events.JobNodesPlaced, fa *fact) error {
	var parent batch.JobDetail
	if _, err := bus.GetJSON(ctx, m.jobs, events.Token(f.JobID), &parent); err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("job %s not created yet", f.JobID)
		}
		return fmt.Errorf("read job %s: %w", f.JobID, err)
	}
	if !parent.IsMultiNodeParent() || len(f.Nodes) != parent.NodeProperties.NumNodes {
		return bus.Permanent(fmt.Errorf("gang placement of %s does not match its record", f.JobID))
	}
	if err := m.previousNodesEnded(ctx, &parent, f.Attempt); err != nil {
		return err
	}
	wanted := parent.Status == batch.StatusRunnable && currentAttempt(&parent) == f.Attempt
	current := (parent.Status == batch.StatusStarting || parent.Status == batch.StatusRunning) && currentAttempt(&parent) == f.Attempt
	if !wanted && !current {
		// Cancelled, or an older attempt: end any node recorded for it
		// before (a crash between the nodes and the parent).
		return m.endUnsentNodes(ctx, &parent, f.Attempt, reasonMainNodeNotRun)
	}
	// Nodes first: once the parent is STARTING, every node is recorded.
	for _, p := range f.Nodes {
		if err := m.placeNode(ctx, &parent, f, p); err != nil {
			return err
		}
	}
	if wanted {
		var err error
		parent, err = m.update(ctx, fa, f.JobID, func(j *batch.JobDetail) bool { return applyGangParent(j, f) })
		if err != nil {
			return err
		}
	}
	if parent.Status != batch.StatusStarting || currentAttempt(&parent) != f.Attempt || parent.IsTerminated {
		return nil
	}
	main, err := m.node(ctx, parent.JobID, parent.NodeProperties.MainNode)
	if err != nil {
		return err
	}
	return m.sendNode(ctx, &parent, &main, "")
}

// applyGangParent moves the parent to STARTING for the gang's attempt.
func applyGangParent(j *batch.JobDetail, f events.JobNodesPlaced) bool {
	if j.Status != batch.StatusRunnable || currentAttempt(j) != f.Attempt {
		return false
	}
	j.Status = batch.StatusStarting
	j.StatusReason = ""
	j.ComputeEnvironmentName = f.ComputeEnvironment
	return true
}

// placeNode creates or updates the record of one node for the gang's
// attempt.
func (m *monitor) placeNode(ctx context.Context, parent *batch.JobDetail, f events.JobNodesPlaced, p events.NodePlacement) error {
	id := batch.NodeID(parent.JobID, p.Index)
	now := m.clock().UnixMilli()
	rec := newNodeRecord(parent, p, f, now)
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode node %s: %w", id, err)
	}
	if _, err := m.jobs.Create(ctx, events.Token(id), data); err == nil {
		return m.announce(ctx, rec)
	} else if !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("create node %s: %w", id, err)
	}
	_, err = m.update(ctx, nil, id, func(j *batch.JobDetail) bool { return applyNodePlaced(j, rec) })
	return err
}

// newNodeRecord is the record of node p of the parent for the gang's
// attempt, STARTING on its host.
func newNodeRecord(parent *batch.JobDetail, p events.NodePlacement, f events.JobNodesPlaced, now int64) batch.JobDetail {
	np := parent.NodeProperties
	var ifs []batch.NetworkInterface
	if p.HostAddress != "" {
		ifs = []batch.NetworkInterface{{PrivateIpv4Address: p.HostAddress}}
	}
	// A node runs its range's container, or its task (a pod).
	var c *batch.ContainerDetail
	var task *batch.EcsPropertiesDetail
	if t := np.NodeTask(p.Index); t != nil {
		d := t.Detail()
		for i := range d.Containers {
			d.Containers[i].NetworkInterfaces = ifs
		}
		task = &batch.EcsPropertiesDetail{TaskProperties: []batch.EcsTaskDetails{d}}
	} else {
		c = &batch.ContainerDetail{}
		if props := np.NodeContainer(p.Index); props != nil {
			*c = props.Detail()
		}
		c.NetworkInterfaces = ifs
	}
	id := batch.NodeID(parent.JobID, p.Index)
	rec := batch.JobDetail{
		JobArn: batch.ARN(batch.KindJob, id), JobName: parent.JobName, JobID: id, JobQueue: parent.JobQueue,
		JobQueueName: parent.JobQueueName, Status: batch.StatusStarting, ShareIdentifier: parent.ShareIdentifier,
		Attempts: []batch.AttemptDetail{}, CreatedAt: now, StatusChangedAt: now, DependsOn: []batch.JobDependency{},
		JobDefinition: parent.JobDefinition, Parameters: parent.Parameters, Container: c, EcsProperties: task, Timeout: parent.Timeout,
		PlatformCapabilities: parent.PlatformCapabilities, NodeDetails: &batch.NodeDetails{NodeIndex: p.Index, IsMainNode: p.Index == np.MainNode},
		HostID: p.HostID, ComputeEnvironmentName: f.ComputeEnvironment, TraceID: parent.TraceID,
		TraceParent: parent.TraceParent, Seq: parent.Seq,
	}
	// A node first recorded in a later attempt (it cannot be, but its
	// attempt number must match the job's): the earlier ones are empty.
	for len(rec.Attempts)+1 < f.Attempt {
		rec.Attempts = append(rec.Attempts, batch.AttemptDetail{StatusReason: "The node did not run in this attempt"})
	}
	return rec
}

// applyNodePlaced starts the next attempt of a node that ended the last
// one: a retry of the whole job.
func applyNodePlaced(j *batch.JobDetail, next batch.JobDetail) bool {
	if !j.Status.Final() || len(j.Attempts) != len(next.Attempts) {
		return false // already placed for this attempt, or not its turn
	}
	attempts, created := j.Attempts, j.CreatedAt
	*j = next
	j.Attempts, j.CreatedAt = attempts, created
	return true
}

// node reads the record of node i of a job.
func (m *monitor) node(ctx context.Context, parent string, i int) (batch.JobDetail, error) {
	var rec batch.JobDetail
	id := batch.NodeID(parent, i)
	if _, err := bus.GetJSON(ctx, m.jobs, events.Token(id), &rec); err != nil {
		return rec, fmt.Errorf("read node %s: %w", id, err)
	}
	return rec, nil
}

// sendNode sends a STARTING node's placement to its launcher.
func (m *monitor) sendNode(ctx context.Context, parent, node *batch.JobDetail, mainAddress string) error {
	if node.Status != batch.StatusStarting || currentAttempt(node) != currentAttempt(parent) {
		return nil
	}
	np := parent.NodeProperties
	extra := events.NodeEnvironment(*node.NodeDetails, np.NumNodes, np.MainNode, mainAddress)
	ev := events.PlacementOf(node, currentAttempt(node), node.HostID, node.ComputeEnvironmentName, queueName(node), extra,
		m.clock().UnixMilli())
	if _, err := bus.Publish(ctx, m.js, ev); err != nil {
		return fmt.Errorf("place node %s: %w", node.JobID, err)
	}
	return nil
}

// onNodeStarted follows a node's start: the main node's makes the parent
// RUNNING and sends the other nodes.
func (m *monitor) onNodeStarted(ctx context.Context, node batch.JobDetail, f events.JobStarted, fa *fact) error {
	parentID, _, _ := batch.MultiNodeParentOf(node.JobID)
	if !node.NodeDetails.IsMainNode || node.Status != batch.StatusRunning || currentAttempt(&node) != f.Attempt {
		return nil
	}
	parent, err := m.update(ctx, fa, parentID, func(j *batch.JobDetail) bool {
		pf := f
		pf.JobID, pf.HostID = parentID, "" // the parent runs on no host of its own
		if !applyStarted(j, pf) {
			return false
		}
		j.Container.LogStreamName = "" // a task's containers each have theirs, on the node
		if node.Container != nil {
			j.Container.LogStreamName = node.Container.LogStreamName
		}
		return true
	})
	if err != nil {
		return err
	}
	if parent.Status != batch.StatusRunning || currentAttempt(&parent) != f.Attempt || parent.IsTerminated {
		return nil
	}
	address := nodeAddress(&node)
	for i := 0; i < parent.NodeProperties.NumNodes; i++ {
		if i == node.NodeDetails.NodeIndex {
			continue
		}
		other, err := m.node(ctx, parentID, i)
		if err != nil {
			return err
		}
		if err := m.sendNode(ctx, &parent, &other, address); err != nil {
			return err
		}
	}
	return nil
}

// nodeAddress is the address of a node's host that the other nodes reach
// it at: on its container, or on its task's containers.
func nodeAddress(node *batch.JobDetail) string {
	var ifs []batch.NetworkInterface
	if node.Container != nil {
		ifs = node.Container.NetworkInterfaces
	} else if t := node.EcsProperties.Task(); t != nil && len(t.Containers) > 0 {
		ifs = t.Containers[0].NetworkInterfaces
	}
	if len(ifs) > 0 {
		return ifs[0].PrivateIpv4Address
	}
	return ""
}

// onNodeExited follows the end of attempt attempt of a node (its exit, or
// the loss of its host): the main node's ends the parent's attempt with its
// result and stops the other nodes. noRetry carries the exit's (a timeout
// or a termination is not retried); exitCode is the exit's (nil for a lost
// host), the job's result when the node ran a task (a container's is in
// its attempt).
func (m *monitor) onNodeExited(ctx context.Context, node batch.JobDetail, attempt int, noRetry bool, exitCode *int, fa *fact) error {
	parentID, _, _ := batch.MultiNodeParentOf(node.JobID)
	if !node.NodeDetails.IsMainNode || len(node.Attempts) < attempt {
		return nil
	}
	a := node.Attempts[attempt-1]
	// The parent runs on no host of its own (its HostID is empty).
	ended := events.JobExited{JobID: parentID, Attempt: attempt, StatusReason: a.StatusReason,
		StartedAt: a.StartedAt, StoppedAt: a.StoppedAt, NoRetry: noRetry}
	if c := a.Container; c != nil {
		ended.ContainerID, ended.ExitCode, ended.Reason = c.TaskArn, c.ExitCode, c.Reason
	} else if len(a.TaskProperties) > 0 {
		ended.ContainerID, ended.ExitCode = a.TaskProperties[0].TaskArn, exitCode
	}
	if ended.ExitCode != nil && ended.StatusReason == reasonEssentialExited {
		ended.StatusReason = "" // applyExited says it again
	}
	parent, err := m.update(ctx, fa, parentID, func(j *batch.JobDetail) bool {
		if !applyExited(j, ended) {
			return false
		}
		// The main node's output: its container's stream; a task's
		// containers each have theirs, on the node.
		stream := ""
		if c := a.Container; c != nil {
			stream = c.LogStreamName
		}
		j.Attempts[len(j.Attempts)-1].Container.LogStreamName = stream
		j.Container.LogStreamName = stream
		return true
	})
	if err != nil {
		return err
	}
	if len(parent.Attempts) < attempt {
		return nil // not this attempt's
	}
	mainRan := a.StartedAt != 0
	for i := 0; i < parent.NodeProperties.NumNodes; i++ {
		if i == node.NodeDetails.NodeIndex {
			continue
		}
		if err := m.stopNode(ctx, batch.NodeID(parentID, i), attempt, mainRan, reasonMainNodeExited); err != nil {
			return err
		}
	}
	return nil
}

// stopNode ends attempt attempt of a node: one that was sent to its
// launcher is marked terminated and stopped there; one that never was
// ends now.
func (m *monitor) stopNode(ctx context.Context, id string, attempt int, sent bool, reason string) error {
	node, err := m.update(ctx, nil, id, func(j *batch.JobDetail) bool {
		if j.Status.Final() || currentAttempt(j) != attempt {
			return false
		}
		if !sent {
			return applyExited(j, events.JobExited{JobID: id, Attempt: attempt, HostID: j.HostID, Reason: reason,
				StatusReason: reason, StoppedAt: m.clock().UnixMilli(), NoRetry: true})
		}
		if j.IsTerminated {
			return false
		}
		j.IsTerminated, j.StatusReason = true, reason
		return true
	})
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return m.stopIfTerminated(ctx, node)
}

// endUnsentNodes ends the nodes recorded STARTING for an attempt whose
// gang the parent no longer wants (it was cancelled in between).
func (m *monitor) endUnsentNodes(ctx context.Context, parent *batch.JobDetail, attempt int, reason string) error {
	if !parent.IsMultiNodeParent() {
		return nil
	}
	for i := 0; i < parent.NodeProperties.NumNodes; i++ {
		if err := m.stopNode(ctx, batch.NodeID(parent.JobID, i), attempt, false, reason); err != nil &&
			!errors.Is(err, jetstream.ErrKeyNotFound) {
			return err
		}
	}
	return nil
}

// terminateNodes carries TerminateJob of a multi-node job to its nodes:
// each running one is stopped; the main node's exit then fails the job.
// Before the main node runs, the others were never sent: they end at
// once.
func (m *monitor) terminateNodes(ctx context.Context, parent batch.JobDetail) error {
	if !parent.IsTerminated || (parent.Status != batch.StatusStarting && parent.Status != batch.StatusRunning) {
		return nil
	}
	sent := parent.Status == batch.StatusRunning
	attempt := currentAttempt(&parent)
	main := parent.NodeProperties.MainNode
	if err := m.stopNode(ctx, batch.NodeID(parent.JobID, main), attempt, true, parent.StatusReason); err != nil {
		return err
	}
	for i := 0; i < parent.NodeProperties.NumNodes; i++ {
		if i == main {
			continue
		}
		if err := m.stopNode(ctx, batch.NodeID(parent.JobID, i), attempt, sent, parent.StatusReason); err != nil {
			return err
		}
	}
	return nil
}

// previousNodesEnded fails (to be retried) while a node of the job still
// runs an earlier attempt: a node runs one attempt at a time.
func (m *monitor) previousNodesEnded(ctx context.Context, parent *batch.JobDetail, attempt int) error {
	if attempt == 1 {
		return nil
	}
	for i := 0; i < parent.NodeProperties.NumNodes; i++ {
		n, err := m.node(ctx, parent.JobID, i)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if !n.Status.Final() && currentAttempt(&n) < attempt {
			return fmt.Errorf("node %s still runs attempt %d", n.JobID, currentAttempt(&n))
		}
	}
	return nil
}

// currentAttempt is the number of the attempt a record is in or waits for.
func currentAttempt(j *batch.JobDetail) int { return len(j.Attempts) + 1 }

// queueName is the name of a record's queue.
func queueName(j *batch.JobDetail) string {
	if j.JobQueueName != "" {
		return j.JobQueueName
	}
	return batch.NameFromRef(batch.KindJobQueue, j.JobQueue)
}
