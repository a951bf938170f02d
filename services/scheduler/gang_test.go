package scheduler

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/batchd/batchd/pkg/batch"
)

// A multi-node job is a gang of its nodes' needs in the planner, and a
// node's record holds only its host: both survive the planner's partial
// decoding of records.
func TestPlanMultiNodeRecords(t *testing.T) {
	c := func(v string) *batch.ContainerProperties {
		return &batch.ContainerProperties{Image: "img", ResourceRequirements: []batch.ResourceRequirement{{Type: "VCPU", Value: v}, {Type: "MEMORY", Value: "64"}}}
	}
	parent := batch.JobDetail{JobID: "p", JobQueueName: "q", Status: batch.StatusRunnable, Attempts: []batch.AttemptDetail{},
		NodeProperties: &batch.NodeProperties{NumNodes: 3, MainNode: 0, NodeRangeProperties: []batch.NodeRangeProperty{
			{TargetNodes: "0:2", Container: c("1")}, {TargetNodes: "0", Container: c("2")}}}}
	node := batch.JobDetail{JobID: "p#1", JobQueueName: "q", Status: batch.StatusRunning, Attempts: []batch.AttemptDetail{},
		HostID: "h1", NodeDetails: &batch.NodeDetails{NodeIndex: 1}, Container: &batch.ContainerDetail{ResourceRequirements: c("1").ResourceRequirements}}
	for _, rec := range []batch.JobDetail{parent, node} {
		data, _ := json.Marshal(rec)
		part, err := decodeRecord(data)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := planJob(&part), planJob(&rec); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: planJob of the decoded part = %+v\nwant %+v", rec.JobID, got, want)
		}
	}
	pj := planJob(&parent)
	if len(pj.Nodes) != 3 || pj.Nodes[0].VCPU != 2000 || pj.Nodes[1].VCPU != 1000 || pj.VCPU != 4000 || pj.Node {
		t.Fatalf("parent %+v", pj)
	}
	if nj := planJob(&node); !nj.Node || len(nj.Nodes) != 0 || nj.Host != "h1" || nj.VCPU != 1000 {
		t.Fatalf("node %+v", nj)
	}
}
