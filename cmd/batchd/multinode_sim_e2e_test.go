package main

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
)

// The whole-job rules of multi-node jobs on simulated containers (no
// Podman): a main-node failure starts a new attempt of every node, the
// other nodes are stopped when the main node ends, TerminateJob stops
// every node, and nodeOverrides.numNodes changes the number of nodes.
func TestMultiNodeRetryAndTerminate(t *testing.T) {
	d := startDaemon(t, "--runtime", "sim", "--host-vcpus", "4", "--host-memory", "2048", "--host-address", "127.0.0.1")
	c := d.client()
	setupQueue(t, c, "msim", 16, "1", "32", "true")
	container := func(cmd string) *types.ContainerProperties {
		return &types.ContainerProperties{Image: aws.String(sampleImage), Command: []string{"sh", "-c", cmd},
			ResourceRequirements: []types.ResourceRequirement{{Type: types.ResourceTypeVcpu, Value: aws.String("1")},
				{Type: types.ResourceTypeMemory, Value: aws.String("32")}}}
	}
	if _, err := c.RegisterJobDefinition(ctxT(t, 30*time.Second), &batch.RegisterJobDefinitionInput{
		JobDefinitionName: aws.String("msim-nodes"), Type: types.JobDefinitionTypeMultinode,
		RetryStrategy: &types.RetryStrategy{Attempts: aws.Int32(2)},
		NodeProperties: &types.NodeProperties{NumNodes: aws.Int32(3), MainNode: aws.Int32(0), NodeRangeProperties: []types.NodeRangeProperty{
			{TargetNodes: aws.String("0:"), Container: container("echo node $AWS_BATCH_JOB_NODE_INDEX; sleep 60")},
			{TargetNodes: aws.String("0"), Container: container("echo main; sleep 1; exit 3")},
		}},
	}); err != nil {
		t.Fatal(err)
	}

	// The main node fails twice: two attempts of every node, the others
	// stopped each time.
	id := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("retry"), JobQueue: aws.String("msim-queue"),
		JobDefinition: aws.String("msim-nodes")})
	j := waitFinal(t, c, 2*time.Minute, id)[id]
	if j.Status != types.JobStatusFailed || len(j.Attempts) != 2 || aws.ToInt32(j.Attempts[1].Container.ExitCode) != 3 {
		t.Fatalf("job %s: %s, %d attempts (%s)", id, j.Status, len(j.Attempts), aws.ToString(j.StatusReason))
	}
	for i, n := range waitFinal(t, c, time.Minute, nodeIDs(id, 3)...) {
		if len(n.Attempts) != 2 || n.Status != types.JobStatusFailed {
			t.Fatalf("node %s: %s with %d attempts", i, n.Status, len(n.Attempts))
		}
		if i != nodeIDs(id, 3)[0] && aws.ToString(n.StatusReason) != "Main node exited" {
			t.Fatalf("node %s: reason %q", i, aws.ToString(n.StatusReason))
		}
	}

	// Two nodes (nodeOverrides.numNodes), terminated while they run.
	id2 := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("term"), JobQueue: aws.String("msim-queue"),
		JobDefinition: aws.String("msim-nodes"), NodeOverrides: &types.NodeOverrides{NumNodes: aws.Int32(2),
			NodePropertyOverrides: []types.NodePropertyOverride{{TargetNodes: aws.String("0"),
				ContainerOverrides: &types.ContainerOverrides{Command: []string{"sh", "-c", "sleep 60"}}}}}})
	waitStatus(t, c, nodeIDs(id2, 2)[1], types.JobStatusRunning)
	if _, err := c.TerminateJob(ctxT(t, 30*time.Second), &batch.TerminateJobInput{JobId: aws.String(id2), Reason: aws.String("stop it")}); err != nil {
		t.Fatal(err)
	}
	j = waitFinal(t, c, 2*time.Minute, id2)[id2]
	if j.Status != types.JobStatusFailed || !aws.ToBool(j.IsTerminated) || aws.ToString(j.StatusReason) != "stop it" ||
		aws.ToInt32(j.NodeProperties.NumNodes) != 2 {
		t.Fatalf("terminated job: %s %q terminated %v", j.Status, aws.ToString(j.StatusReason), aws.ToBool(j.IsTerminated))
	}
	for i, n := range waitFinal(t, c, time.Minute, nodeIDs(id2, 2)...) {
		if n.Status != types.JobStatusFailed || len(n.Attempts) != 1 {
			t.Fatalf("node %s: %s with %d attempts", i, n.Status, len(n.Attempts))
		}
	}
	if nodes := describe(t, c, nodeIDs(id2, 3)[2]); len(nodes) != 0 {
		t.Fatalf("a third node of a 2-node job: %+v", nodes)
	}
	// A node cannot be terminated on its own.
	if _, err := c.TerminateJob(ctxT(t, 30*time.Second), &batch.TerminateJobInput{JobId: aws.String(nodeIDs(id2, 2)[1]), Reason: aws.String("x")}); err == nil {
		t.Fatal("TerminateJob of a node succeeded")
	}
}
