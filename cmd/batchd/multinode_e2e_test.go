package main

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	pb "github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Multi-node parallel jobs on real Podman: gang placement across two
// hosts, nodes that reach the main node over the network, an oversized
// gang that never starts a node, and a kill -9 of batchd during a running
// 3-node job.

// mainScript serves Ref::port (busybox nc as a persistent server: a node
// that connects while another's connection is handled waits in the
// listen queue, never refused or dropped) until each other node has said
// hello, and prints what it heard; nodeScript says hello to the main
// node's address until the main node answers "ack" (a connection the
// kernel accepted but no server read gets no answer and is tried again).
// The main node lingers Ref::mainextra s longer than the others: when it
// ends, the nodes still running are stopped.
const (
	mainScript = `echo "start $AWS_BATCH_JOB_ID index=$AWS_BATCH_JOB_NODE_INDEX nodes=$AWS_BATCH_JOB_NUM_NODES main=$AWS_BATCH_JOB_MAIN_NODE_INDEX addr=${AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS:-none}"
printf '#!/bin/sh\nread l; echo "$l" >> /tmp/heard; echo ack\n' > /tmp/hello.sh; chmod +x /tmp/hello.sh
nc -ll -p Ref::port -e /tmp/hello.sh & server=$!
while [ "$(cat /tmp/heard 2>/dev/null | wc -l)" -lt $((AWS_BATCH_JOB_NUM_NODES - 1)) ]; do sleep 0.1; done
kill $server; cat /tmp/heard
sleep $((Ref::linger + Ref::mainextra)); echo "end $AWS_BATCH_JOB_ID"`
	nodeScript = `echo "start $AWS_BATCH_JOB_ID index=$AWS_BATCH_JOB_NODE_INDEX nodes=$AWS_BATCH_JOB_NUM_NODES main=$AWS_BATCH_JOB_MAIN_NODE_INDEX addr=$AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"
until echo "hello from node $AWS_BATCH_JOB_NODE_INDEX" | nc -w 2 $AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS Ref::port | grep -q ack; do sleep 0.2; done
sleep Ref::linger; echo "end $AWS_BATCH_JOB_ID"`
)

// registerMultiNode registers a multinode definition: node 0 is the main
// node (mainScript), nodes 1: run nodeScript, each with vcpus vCPUs.
func registerMultiNode(t *testing.T, c *batch.Client, name string, numNodes int32, vcpus string) {
	t.Helper()
	container := func(script string) *types.ContainerProperties {
		return &types.ContainerProperties{Image: aws.String(sampleImage), Command: []string{"sh", "-c", script},
			ResourceRequirements: []types.ResourceRequirement{
				{Type: types.ResourceTypeVcpu, Value: aws.String(vcpus)},
				{Type: types.ResourceTypeMemory, Value: aws.String("32")}}}
	}
	if _, err := c.RegisterJobDefinition(ctxT(t, 30*time.Second), &batch.RegisterJobDefinitionInput{
		JobDefinitionName: aws.String(name), Type: types.JobDefinitionTypeMultinode,
		Parameters: map[string]string{"port": "0", "linger": "0", "mainextra": "3"},
		NodeProperties: &types.NodeProperties{NumNodes: aws.Int32(numNodes), MainNode: aws.Int32(0),
			NodeRangeProperties: []types.NodeRangeProperty{
				{TargetNodes: aws.String("0:"), Container: container(nodeScript)},
				{TargetNodes: aws.String("0"), Container: container(mainScript)},
			}},
	}); err != nil {
		t.Fatalf("register multinode definition: %v", err)
	}
}

// freeTCPPort is a port nothing listens on now.
func freeTCPPort(t *testing.T) string {
	_, port, _ := net.SplitHostPort(freePort(t))
	return port
}

// rawJobs describes jobs with this system's additions (hostId).
func rawJobs(t *testing.T, d *daemon, ids ...string) map[string]pb.JobDetail {
	t.Helper()
	var out pb.DescribeJobsOutput
	d.call(t, "DescribeJobs", pb.DescribeJobsInput{Jobs: ids}, &out)
	m := map[string]pb.JobDetail{}
	for _, j := range out.Jobs {
		m[j.JobID] = j
	}
	return m
}

// listNodes lists the nodes of a multi-node job in a status.
func listNodes(t *testing.T, c *batch.Client, id string, status types.JobStatus) []types.JobSummary {
	t.Helper()
	out, err := c.ListJobs(ctxT(t, 30*time.Second), &batch.ListJobsInput{MultiNodeJobId: aws.String(id), JobStatus: status})
	if err != nil {
		t.Fatalf("list nodes: %v", err)
	}
	return out.JobSummaryList
}

func nodeIDs(id string, n int) []string {
	var ids []string
	for i := 0; i < n; i++ {
		ids = append(ids, pb.NodeID(id, i))
	}
	return ids
}

// runningAt records when each job's RUNNING state change was decided.
func runningAt(t *testing.T, nc *nats.Conn) func(id string) time.Time {
	t.Helper()
	seen := make(chan [2]string, 100)
	sub, err := nc.Subscribe("batch.events.job.*.RUNNING", func(m *nats.Msg) {
		var ev events.JobStateChange
		if json.Unmarshal(m.Data, &ev) == nil {
			seen <- [2]string{ev.Detail.JobID, m.Header.Get(events.HeaderDecidedAt)}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	got := map[string]time.Time{}
	return func(id string) time.Time {
		deadline := time.After(time.Minute)
		for {
			if at, ok := got[id]; ok {
				return at
			}
			select {
			case s := <-seen:
				at, _ := time.Parse(time.RFC3339Nano, s[1])
				got[s[0]] = at
			case <-deadline:
				t.Fatalf("no RUNNING event for %s", id)
			}
		}
	}
}

// A 3-node job on two hosts: the main node starts first, the others once
// it runs, reach it at AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS; the
// job ends with the main node, every node is listed and described.
func TestMultiNodeJob(t *testing.T) {
	d := startDaemon(t, "--host-vcpus", "2", "--host-memory", "2048", "--host-address", "127.0.0.1")
	// A second host: a launcher (and an api replica) of its own.
	startDaemon(t, "--services", "launcher,api", "--nats-url", "nats://"+d.natsAddr, "--defaults=false",
		"--host-vcpus", "2", "--host-memory", "2048", "--host-address", "127.0.0.1")
	c := d.client()
	setupQueue(t, c, "mnp", 16, "1", "32", "sh", "-c", "echo single")
	registerMultiNode(t, c, "mnp-nodes", 3, "1")
	nc := d.nats(t)
	running := runningAt(t, nc)
	statuses := trackStatuses(t, nc)

	// Both hosts are known before the timing starts.
	waitHosts(t, nc, 2)
	submitAt := time.Now()
	id := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("mnp"), JobQueue: aws.String("mnp-queue"),
		JobDefinition: aws.String("mnp-nodes"), Parameters: map[string]string{"port": freeTCPPort(t)}})
	mnpRunning := running(id).Sub(submitAt)
	jobs := waitFinal(t, c, 2*time.Minute, id)
	singleAt := time.Now()
	single := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("single"), JobQueue: aws.String("mnp-queue"),
		JobDefinition: aws.String("mnp-def")})
	singleRunning := running(single).Sub(singleAt)
	waitFinal(t, c, 2*time.Minute, single)
	t.Logf("SubmitJob to RUNNING: 3-node job %v, single-container job %v", mnpRunning.Round(time.Millisecond), singleRunning.Round(time.Millisecond))

	j := jobs[id]
	if j.Status != types.JobStatusSucceeded || j.NodeProperties == nil || aws.ToInt32(j.NodeProperties.NumNodes) != 3 ||
		len(j.Attempts) != 1 {
		t.Fatalf("job %s: %s, nodeProperties %+v, %d attempts (%s)", id, j.Status, j.NodeProperties, len(j.Attempts), aws.ToString(j.StatusReason))
	}
	nodes := listNodes(t, c, id, types.JobStatusSucceeded)
	if len(nodes) != 3 || nodes[0].NodeProperties == nil || nodes[0].NodeProperties.NodeIndex == nil {
		t.Fatalf("ListJobs multiNodeJobId: %d nodes %+v", len(nodes), nodes)
	}
	raw := rawJobs(t, d, nodeIDs(id, 3)...)
	hosts := map[string]bool{}
	for i, nid := range nodeIDs(id, 3) {
		n := describe(t, c, nid)[nid]
		if n.Status != types.JobStatusSucceeded || n.NodeDetails == nil || aws.ToInt32(n.NodeDetails.NodeIndex) != int32(i) ||
			aws.ToBool(n.NodeDetails.IsMainNode) != (i == 0) {
			t.Fatalf("node %s: %s %+v (%s)", nid, n.Status, n.NodeDetails, aws.ToString(n.StatusReason))
		}
		hosts[raw[nid].HostID] = true
		lines := jobLog(t, nc, nid)
		want := fmt.Sprintf("start %s index=%d nodes=3 main=0 addr=127.0.0.1", nid, i)
		if i == 0 {
			want = fmt.Sprintf("start %s index=0 nodes=3 main=0 addr=none", nid)
			for _, other := range []string{"hello from node 1", "hello from node 2"} {
				if !slices.Contains(lines, other) {
					t.Fatalf("main node did not hear %q: log %q", other, lines)
				}
			}
		}
		if !slices.Contains(lines, want) || !slices.Contains(lines, "end "+nid) {
			t.Fatalf("node %s log %q, want %q", nid, lines, want)
		}
	}
	if len(hosts) != 2 {
		t.Fatalf("the 3 nodes ran on hosts %v: want them spread over both", hosts)
	}
	// The main node ran first: the others were sent once it ran.
	mainStart := raw[pb.NodeID(id, 0)].StartedAt
	for _, nid := range nodeIDs(id, 3)[1:] {
		if raw[nid].StartedAt < mainStart {
			t.Fatalf("node %s started at %d, before the main node (%d)", nid, raw[nid].StartedAt, mainStart)
		}
		if h := statuses.history(nid); !slices.Equal(h, []string{"STARTING", "RUNNING", "SUCCEEDED"}) {
			t.Fatalf("node %s went %v", nid, h)
		}
	}
}

// waitHosts waits until n launchers advertise themselves.
func waitHosts(t *testing.T, nc *nats.Conn, n int) {
	t.Helper()
	js, _ := jetstream.New(nc)
	kv, err := js.KeyValue(ctxT(t, 10*time.Second), events.BucketHosts)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		keys, _ := kv.Keys(ctxT(t, 10*time.Second))
		if len(keys) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d hosts after a minute, want %d", len(keys), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A gang larger than every host together never starts a node and says
// why; a job behind it in the queue runs.
func TestMultiNodeOversized(t *testing.T) {
	d := startDaemon(t, "--host-vcpus", "4", "--host-memory", "2048", "--host-address", "127.0.0.1")
	c := d.client()
	setupQueue(t, c, "big", 16, "1", "32", "sh", "-c", "echo small")
	registerMultiNode(t, c, "big-nodes", 3, "2")
	id := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("big"), JobQueue: aws.String("big-queue"),
		JobDefinition: aws.String("big-nodes"), Parameters: map[string]string{"port": freeTCPPort(t)}})
	small := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("small"), JobQueue: aws.String("big-queue"),
		JobDefinition: aws.String("big-def")})
	if j := waitFinal(t, c, 2*time.Minute, small)[small]; j.Status != types.JobStatusSucceeded {
		t.Fatalf("job behind the gang: %s (%s)", j.Status, aws.ToString(j.StatusReason))
	}
	deadline := time.Now().Add(time.Minute)
	for {
		j := describe(t, c, id)[id]
		if j.Status != types.JobStatusRunnable && j.Status != types.JobStatusSubmitted {
			t.Fatalf("oversized gang went %s", j.Status)
		}
		if r := aws.ToString(j.StatusReason); strings.HasPrefix(r, "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT") {
			if !strings.Contains(r, "cannot hold the 3 nodes") {
				t.Fatalf("reason %q", r)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("oversized gang: %s %q", j.Status, aws.ToString(j.StatusReason))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if nodes := describe(t, c, nodeIDs(id, 3)...); len(nodes) != 0 {
		t.Fatalf("an oversized gang has nodes: %+v", nodes)
	}
}

// kill -9 of batchd while a 3-node job runs: the containers go on, the
// restarted batchd re-adopts them, and the job completes once.
func TestMultiNodeCrash(t *testing.T) {
	d := startDaemon(t, "--host-vcpus", "4", "--host-memory", "2048", "--host-address", "127.0.0.1", "--log-level", "debug")
	c := d.client()
	setupQueue(t, c, "mcrash", 16, "1", "32", "true")
	registerMultiNode(t, c, "mcrash-nodes", 3, "1")
	id := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("mcrash"), JobQueue: aws.String("mcrash-queue"),
		JobDefinition: aws.String("mcrash-nodes"), Parameters: map[string]string{"port": freeTCPPort(t), "linger": "6", "mainextra": "0"}})
	for _, nid := range nodeIDs(id, 3) {
		waitStatus(t, c, nid, types.JobStatusRunning)
	}
	d.stop(syscall.SIGKILL)
	// d.stop waits for the process to have exited: start again at once.
	d.start()
	c = d.client()
	t.Cleanup(func() {
		if t.Failed() {
			for nid, n := range rawJobs(t, d, nodeIDs(id, 3)...) {
				t.Logf("node %s: %s %q attempts %+v", nid, n.Status, n.StatusReason, n.Attempts)
			}
		}
	})
	j := waitFinal(t, c, 2*time.Minute, id)[id]
	if j.Status != types.JobStatusSucceeded || len(j.Attempts) != 1 {
		t.Fatalf("job %s: %s with %d attempts (%s)", id, j.Status, len(j.Attempts), aws.ToString(j.StatusReason))
	}
	nc := d.nats(t)
	nodes := waitFinal(t, c, time.Minute, nodeIDs(id, 3)...)
	for _, nid := range nodeIDs(id, 3) {
		n := nodes[nid]
		// The main node ends about when the others do: one still running
		// then is stopped (AWS's rule), FAILED "Main node exited".
		stopped := n.Status == types.JobStatusFailed && aws.ToString(n.StatusReason) == "Main node exited" && nid != pb.NodeID(id, 0)
		if (n.Status != types.JobStatusSucceeded && !stopped) || len(n.Attempts) != 1 {
			t.Fatalf("node %s: %s with %d attempts (%s)", nid, n.Status, len(n.Attempts), aws.ToString(n.StatusReason))
		}
		starts := 0
		lines := jobLog(t, nc, nid)
		for _, l := range lines {
			if strings.HasPrefix(l, "start "+nid+" ") {
				starts++
			}
		}
		if starts != 1 || (!stopped && !slices.Contains(lines, "end "+nid)) {
			t.Fatalf("node %s: want its container started once and finished, log %q", nid, lines)
		}
	}
}

// A 2-node job whose node ranges are 2-container pods (ecsProperties):
// each node runs as one pod; every container has the node variables; the
// other node's main container reaches the main node's server at
// AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS; a sidecar of each pod is
// stopped when its essential container ends; nodeOverrides'
// ecsPropertiesOverride changes one node's container; DescribeJobs shows
// each node's task with per-container results.
func TestMultiNodePods(t *testing.T) {
	d := startDaemon(t, "--host-vcpus", "4", "--host-memory", "2048", "--host-address", "127.0.0.1")
	c := d.client()
	setupQueue(t, c, "mnpod", 16, "1", "32", "sh", "-c", "echo single")
	task := func(script string) *types.EcsProperties {
		return &types.EcsProperties{TaskProperties: []types.EcsTaskProperties{{Containers: []types.TaskContainerProperties{
			{Name: aws.String("side"), Image: aws.String(sampleImage), Essential: aws.Bool(false), StopTimeout: aws.Int32(2),
				Command:              []string{"sh", "-c", `echo "side index=$AWS_BATCH_JOB_NODE_INDEX nodes=$AWS_BATCH_JOB_NUM_NODES"; exec sleep 3600`},
				ResourceRequirements: res("", "32")},
			{Name: aws.String("main"), Image: aws.String(sampleImage), Command: []string{"sh", "-c", `echo "word=${WORD:-none}"; ` + script},
				DependsOn:            []types.TaskContainerDependency{{ContainerName: aws.String("side"), Condition: aws.String("START")}},
				ResourceRequirements: res("1", "32")},
		}}}}
	}
	if _, err := c.RegisterJobDefinition(ctxT(t, 30*time.Second), &batch.RegisterJobDefinitionInput{
		JobDefinitionName: aws.String("mnpod-nodes"), Type: types.JobDefinitionTypeMultinode,
		Parameters: map[string]string{"port": "0", "linger": "0", "mainextra": "3"},
		NodeProperties: &types.NodeProperties{NumNodes: aws.Int32(2), MainNode: aws.Int32(0),
			NodeRangeProperties: []types.NodeRangeProperty{
				{TargetNodes: aws.String("0:"), EcsProperties: task(nodeScript)},
				{TargetNodes: aws.String("0"), EcsProperties: task(mainScript)},
			}},
	}); err != nil {
		t.Fatalf("register multinode definition: %v", err)
	}
	id := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("mnpod"), JobQueue: aws.String("mnpod-queue"),
		JobDefinition: aws.String("mnpod-nodes"), Parameters: map[string]string{"port": freeTCPPort(t)},
		NodeOverrides: &types.NodeOverrides{NodePropertyOverrides: []types.NodePropertyOverride{{TargetNodes: aws.String("1"),
			EcsPropertiesOverride: &types.EcsPropertiesOverride{TaskProperties: []types.TaskPropertiesOverride{{Containers: []types.TaskContainerOverrides{
				{Name: aws.String("main"), Environment: []types.KeyValuePair{{Name: aws.String("WORD"), Value: aws.String("overridden")}}}}}}}}}}})
	j := waitFinal(t, c, 2*time.Minute, id)[id]
	if j.Status != types.JobStatusSucceeded || len(j.Attempts) != 1 || j.NodeProperties == nil ||
		len(j.NodeProperties.NodeRangeProperties) != 2 || j.NodeProperties.NodeRangeProperties[0].EcsProperties == nil {
		t.Fatalf("job %s: %s, %d attempts, nodeProperties %+v (%s)", id, j.Status, len(j.Attempts), j.NodeProperties, aws.ToString(j.StatusReason))
	}
	t.Logf("SubmitJob to RUNNING of a 2-node job of 2-container pods: %d ms", aws.ToInt64(j.StartedAt)-aws.ToInt64(j.CreatedAt))
	nc := d.nats(t)
	for i, nid := range nodeIDs(id, 2) {
		n := describe(t, c, nid)[nid]
		if n.Status != types.JobStatusSucceeded || n.NodeDetails == nil || aws.ToBool(n.NodeDetails.IsMainNode) != (i == 0) {
			t.Fatalf("node %s: %s %+v (%s)", nid, n.Status, n.NodeDetails, aws.ToString(n.StatusReason))
		}
		if n.EcsProperties == nil || len(n.EcsProperties.TaskProperties) != 1 || len(n.Attempts) != 1 || len(n.Attempts[0].TaskProperties) != 1 {
			t.Fatalf("node %s: ecsProperties %+v, attempts %+v", nid, n.EcsProperties, n.Attempts)
		}
		if codes := exitCodes(n.Attempts[0].TaskProperties[0].Containers); codes["main"] != "0" || codes["side"] == "0" || codes["side"] == "-" {
			t.Fatalf("node %s exit codes %v: want main 0, the sidecar stopped", nid, codes)
		}
		lines := containerLog(t, nc, nid)
		want := []string{fmt.Sprintf("side | side index=%d nodes=2", i), "main | end " + nid}
		if i == 0 {
			want = append(want, "main | word=none", "main | hello from node 1", fmt.Sprintf("main | start %s index=0 nodes=2 main=0 addr=none", nid))
		} else {
			want = append(want, "main | word=overridden", fmt.Sprintf("main | start %s index=1 nodes=2 main=0 addr=127.0.0.1", nid))
		}
		for _, w := range want {
			if !slices.Contains(lines, w) {
				t.Fatalf("node %s log %q: missing %q", nid, lines, w)
			}
		}
	}
}
