package monitor

import (
	"testing"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

func multiNodeParent() batch.JobDetail {
	c := func(img string) *batch.ContainerProperties {
		return &batch.ContainerProperties{Image: img, ResourceRequirements: []batch.ResourceRequirement{{Type: "VCPU", Value: "1"}, {Type: "MEMORY", Value: "64"}}}
	}
	return batch.JobDetail{JobID: "p", JobName: "n", JobQueue: "arn:q", JobQueueName: "q", Status: batch.StatusRunnable,
		Attempts: []batch.AttemptDetail{}, Timeout: &batch.JobTimeout{AttemptDurationSeconds: 90},
		NodeProperties: &batch.NodeProperties{NumNodes: 3, MainNode: 1, NodeRangeProperties: []batch.NodeRangeProperty{
			{TargetNodes: "0:2", Container: c("worker")}, {TargetNodes: "1", Container: c("main")}}}}
}

func TestNewNodeRecord(t *testing.T) {
	parent := multiNodeParent()
	f := events.JobNodesPlaced{JobID: "p", Attempt: 1, ComputeEnvironment: "ce"}
	rec := newNodeRecord(&parent, events.NodePlacement{Index: 1, HostID: "h2", HostAddress: "10.0.0.2"}, f, 5)
	switch {
	case rec.JobID != "p#1" || rec.Status != batch.StatusStarting || rec.HostID != "h2" || rec.ComputeEnvironmentName != "ce":
		t.Fatalf("record %+v", rec)
	case rec.NodeDetails == nil || !rec.NodeDetails.IsMainNode || rec.NodeDetails.NodeIndex != 1:
		t.Fatalf("nodeDetails %+v", rec.NodeDetails)
	case rec.Container.Image != "main" || rec.Container.NetworkInterfaces[0].PrivateIpv4Address != "10.0.0.2":
		t.Fatalf("container %+v", rec.Container)
	case rec.Timeout.AttemptDurationSeconds != 90 || rec.RetryStrategy != nil || rec.IsMultiNodeParent() || !rec.IsNode():
		t.Fatalf("record %+v", rec)
	}
	if other := newNodeRecord(&parent, events.NodePlacement{Index: 2, HostID: "h1"}, f, 5); other.Container.Image != "worker" || other.NodeDetails.IsMainNode {
		t.Fatalf("node 2 %+v", other)
	}
}

// A node whose range runs a task gets the task (each container with the
// host's address), no container of its own.
func TestNewNodeRecordOfATask(t *testing.T) {
	parent := multiNodeParent()
	task := batch.EcsTaskProperties{Containers: []batch.TaskContainerProperties{{Name: "side", Image: "s"}, {Name: "main", Image: "m"}}}
	parent.NodeProperties.NodeRangeProperties[1] = batch.NodeRangeProperty{TargetNodes: "1",
		EcsProperties: &batch.EcsProperties{TaskProperties: []batch.EcsTaskProperties{task}}}
	f := events.JobNodesPlaced{JobID: "p", Attempt: 1, ComputeEnvironment: "ce"}
	rec := newNodeRecord(&parent, events.NodePlacement{Index: 1, HostID: "h2", HostAddress: "10.0.0.2"}, f, 5)
	tk := rec.EcsProperties.Task()
	if rec.Container != nil || tk == nil || len(tk.Containers) != 2 || tk.Containers[1].Image != "m" {
		t.Fatalf("record container %+v task %+v", rec.Container, tk)
	}
	if a := nodeAddress(&rec); a != "10.0.0.2" {
		t.Fatalf("address %q", a)
	}
	if other := newNodeRecord(&parent, events.NodePlacement{Index: 2, HostID: "h1", HostAddress: "10.0.0.1"}, f, 5); other.EcsProperties != nil ||
		other.Container.Image != "worker" || nodeAddress(&other) != "10.0.0.1" {
		t.Fatalf("node 2 %+v", other)
	}
}

func TestApplyGangParent(t *testing.T) {
	j := multiNodeParent()
	f := events.JobNodesPlaced{JobID: "p", Attempt: 2, ComputeEnvironment: "ce"}
	if applyGangParent(&j, f) {
		t.Fatal("a gang of another attempt applied")
	}
	f.Attempt = 1
	if !applyGangParent(&j, f) || j.Status != batch.StatusStarting || j.ComputeEnvironmentName != "ce" || j.HostID != "" {
		t.Fatalf("parent %+v", j)
	}
	if applyGangParent(&j, f) {
		t.Fatal("applied twice")
	}
}

// A node's next attempt starts only from the end of the last one.
func TestApplyNodePlaced(t *testing.T) {
	parent := multiNodeParent()
	parent.Attempts = []batch.AttemptDetail{{}}
	next := newNodeRecord(&parent, events.NodePlacement{Index: 0, HostID: "h3"}, events.JobNodesPlaced{Attempt: 2}, 9)
	node := batch.JobDetail{JobID: "p#0", Status: batch.StatusRunning, Attempts: []batch.AttemptDetail{}, CreatedAt: 1}
	if applyNodePlaced(&node, next) {
		t.Fatal("a running node placed again")
	}
	node.Status, node.Attempts, node.IsTerminated = batch.StatusFailed, []batch.AttemptDetail{{StatusReason: "Main node exited"}}, true
	if !applyNodePlaced(&node, next) || node.Status != batch.StatusStarting || node.HostID != "h3" || node.IsTerminated ||
		len(node.Attempts) != 1 || node.Attempts[0].StatusReason != "Main node exited" || node.CreatedAt != 1 {
		t.Fatalf("node %+v", node)
	}
	if applyNodePlaced(&node, next) {
		t.Fatal("applied twice")
	}
}
