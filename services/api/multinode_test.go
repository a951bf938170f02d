package api

import (
	"encoding/json"
	"testing"

	"github.com/batchd/batchd/pkg/batch"
)

const nodeContainer = `{"image":"busybox","command":["sh","-c","Ref::what"],"resourceRequirements":[{"type":"VCPU","value":"1"},{"type":"MEMORY","value":"64"}]}`

func nodeProps(numNodes, main int, ranges ...string) json.RawMessage {
	s := `{"numNodes":` + itoa(numNodes) + `,"mainNode":` + itoa(main) + `,"nodeRangeProperties":[`
	for i, r := range ranges {
		if i > 0 {
			s += ","
		}
		s += r
	}
	return json.RawMessage(s + "]}")
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func rng(target string) string {
	return `{"targetNodes":"` + target + `","container":` + nodeContainer + `}`
}

func TestCheckNodeProperties(t *testing.T) {
	for _, tc := range []struct {
		name string
		np   json.RawMessage
		want string
	}{
		{"one range", nodeProps(3, 0, rng("0:2")), ""},
		{"open range", nodeProps(3, 2, rng("0"), rng("1:")), ""},
		{"nested", nodeProps(11, 0, rng("0:10"), rng("4:5")), ""},
		{"all", nodeProps(2, 1, rng(":")), ""},
		{"no nodes", nodeProps(0, 0, rng(":")), "numNodes 0 is out of range: use 1 to 1000"},
		{"too many nodes", nodeProps(1001, 0, rng(":")), "numNodes 1001 is out of range"},
		{"main too big", nodeProps(3, 3, rng(":")), "mainNode 3 must be a node index below numNodes 3"},
		{"main negative", nodeProps(3, -1, rng(":")), "mainNode -1 must be a node index below numNodes 3"},
		{"no ranges", nodeProps(3, 0), "nodeRangeProperties is required"},
		{"six ranges", nodeProps(6, 0, rng("0"), rng("1"), rng("2"), rng("3"), rng("4"), rng("5")), "at most 5 node groups"},
		{"out of bounds", nodeProps(3, 0, rng("0:3")), `nodeRangeProperties[0]: targetNodes "0:3" ends at node 3, but the job has 3 nodes (0 to 2)`},
		{"uncovered", nodeProps(4, 0, rng("0"), rng("2:")), "node(s) 1 of the 4 nodes are in no targetNodes range"},
		{"bad range", nodeProps(4, 0, rng("x")), `targetNodes "x" is not a node range`},
		{"reversed", nodeProps(4, 0, rng("3:1")), "is empty"},
		{"no container", nodeProps(2, 0, `{"targetNodes":":"}`), "nodeRangeProperties[0] has no container"},
		{"no image", nodeProps(2, 0, `{"targetNodes":":","container":{"vcpus":1,"memory":64}}`), "container.image is required"},
		{"no memory", nodeProps(2, 0, `{"targetNodes":":","container":{"image":"busybox","vcpus":1}}`), "nodeRangeProperties[0].container has no MEMORY"},
		{"no vcpu", nodeProps(2, 0, `{"targetNodes":":","container":{"image":"busybox","memory":64}}`), "nodeRangeProperties[0].container has no VCPU"},
		{"reserved env", nodeProps(2, 0, `{"targetNodes":":","container":{"image":"b","vcpus":1,"memory":64,"environment":[{"name":"AWS_BATCH_X","value":"1"}]}}`), "reserved"},
		{"ecs range", nodeProps(2, 0, `{"targetNodes":":","ecsProperties":{"taskProperties":[]}}`), "multi-container node ranges are not supported yet"},
		{"eks range", nodeProps(2, 0, `{"targetNodes":":","eksProperties":{}}`), "EKS node ranges are not supported"},
		{"range consumables", nodeProps(2, 0, `{"targetNodes":":","container":`+nodeContainer+`,"consumableResourceProperties":{"consumableResourceList":[{"consumableResource":"r","quantity":1}]}}`), "per-range consumable resources are not supported yet"},
		{"two instance types", nodeProps(2, 0, `{"targetNodes":":","container":`+nodeContainer+`,"instanceTypes":["a","b"]}`), "at most one is allowed"},
		{"malformed", json.RawMessage(`{"numNodes":"two"}`), "nodeProperties is malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, checkNodeProperties(tc.np), tc.want) })
	}
}

func TestResolveNodeProperties(t *testing.T) {
	def := &batch.JobDefinition{JobDefinitionArn: "arn:def", NodeProperties: nodeProps(4, 0,
		rng("0:"), `{"targetNodes":"0","container":{"image":"main","vcpus":2,"memory":128}}`)}
	params := map[string]string{"what": "work"}

	np, err := resolveNodeProperties(def, nil, params)
	if err != nil {
		t.Fatal(err)
	}
	if np.NumNodes != 4 || np.MainNode != 0 || len(np.NodeRangeProperties) != 2 {
		t.Fatalf("resolved %+v", np)
	}
	if r := np.NodeRangeProperties[0]; r.TargetNodes != "0" || r.Container.Image != "main" || !hasResource(r.Container.ResourceRequirements, "VCPU") {
		t.Fatalf("main range %+v %+v", r, r.Container)
	}
	if r := np.NodeRangeProperties[1]; r.TargetNodes != "1:3" || r.Container.Command[2] != "work" {
		t.Fatalf("other range %+v %+v", r, r.Container)
	}

	// numNodes override and an override of nodes 2 and up (two of them:
	// the later wins).
	ov := json.RawMessage(`{"numNodes":6,"nodePropertyOverrides":[
		{"targetNodes":"2:","containerOverrides":{"command":["a"],"environment":[{"name":"X","value":"1"}]}},
		{"targetNodes":"5","containerOverrides":{"command":["b"],"resourceRequirements":[{"type":"MEMORY","value":"256"}]}}]}`)
	np, err = resolveNodeProperties(def, ov, params)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range np.NodeRangeProperties {
		what := r.Container.Image
		if len(r.Container.Command) > 0 {
			what = r.Container.Command[0]
		}
		got = append(got, r.TargetNodes+"="+what)
	}
	if want := []string{"0=main", "1=sh", "2:4=a", "5=b"}; np.NumNodes != 6 || !equalStrings(got, want) {
		t.Fatalf("ranges %v, want %v", got, want)
	}
	last := np.NodeRangeProperties[3].Container
	if len(last.Environment) != 1 || last.Environment[0].Name != "X" || batchMemory(last) != 256 {
		t.Fatalf("node 5 container %+v", last)
	}
	if np.NodeContainer(5) != last || np.NodeContainer(0).Image != "main" {
		t.Fatal("NodeContainer does not follow the resolved ranges")
	}

	for _, tc := range []struct {
		name string
		def  json.RawMessage
		ov   string
		want string
	}{
		{"closed ranges", nodeProps(2, 0, rng("0:1")), `{"numNodes":3}`, "needs a job definition with an open-ended node range"},
		{"below open start", nodeProps(4, 0, rng("0:2"), rng("3:")), `{"numNodes":3}`, "must be greater than the start 3"},
		{"below main", nodeProps(4, 2, rng("0:")), `{"numNodes":2}`, "must be greater than the definition's mainNode 2"},
		{"closed range beyond", nodeProps(4, 0, rng("0:2"), rng("1:")), `{"numNodes":2}`, `targetNodes "0:2" ends at node 2, but the job has 2 nodes`},
		{"zero", nodeProps(4, 0, rng("0:")), `{"numNodes":0}`, "numNodes 0 is out of range"},
		{"override out of range", nodeProps(2, 0, rng(":")), `{"nodePropertyOverrides":[{"targetNodes":"2"}]}`, `nodePropertyOverrides[0]: targetNodes "2" starts at node 2`},
		{"override ecs", nodeProps(2, 0, rng(":")), `{"nodePropertyOverrides":[{"targetNodes":"1","ecsPropertiesOverride":{}}]}`, "multi-container node ranges are not supported yet"},
		{"override instance", nodeProps(2, 0, rng(":")), `{"nodePropertyOverrides":[{"targetNodes":"1","instanceTypes":["m5"]}]}`, "no instance types"},
		{"override bad resource", nodeProps(2, 0, rng(":")), `{"nodePropertyOverrides":[{"targetNodes":"1","containerOverrides":{"resourceRequirements":[{"type":"VCPU","value":"0.5"}]}}]}`, "nodes 1: container VCPU 0.5 is invalid on EC2"},
		{"override reserved env", nodeProps(2, 0, rng(":")), `{"nodePropertyOverrides":[{"targetNodes":"1","containerOverrides":{"environment":[{"name":"AWS_BATCH_JOB_ID","value":"x"}]}}]}`, "reserved"},
		{"malformed", nodeProps(2, 0, rng(":")), `{"numNodes":"x"}`, "nodeOverrides is malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := resolveNodeProperties(&batch.JobDefinition{NodeProperties: tc.def}, json.RawMessage(tc.ov), nil)
			wantErr(t, err, tc.want)
		})
	}
}

func batchMemory(c *batch.ContainerProperties) int64 {
	r, _ := batch.ParseResources(c.ResourceRequirements, c.Vcpus, c.Memory)
	return r.MemoryMiB
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
