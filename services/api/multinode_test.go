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

// nodeTask is a task of two containers: a sidecar and the main one.
const nodeTask = `{"taskProperties":[{"containers":[
 {"name":"side","image":"busybox","essential":false,"command":["sleep","60"],"resourceRequirements":[{"type":"MEMORY","value":"32"}]},
 {"name":"main","image":"busybox","command":["echo","Ref::what"],"dependsOn":[{"containerName":"side","condition":"START"}],
  "resourceRequirements":[{"type":"VCPU","value":"1"},{"type":"MEMORY","value":"64"},{"type":"GPU","value":"1"}]}]}]}`

func taskRng(target string) string {
	return `{"targetNodes":"` + target + `","ecsProperties":` + nodeTask + `}`
}

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
		{"ecs range", nodeProps(2, 0, taskRng(":")), ""},
		{"ecs and container ranges", nodeProps(3, 0, rng(":"), taskRng("1:")), ""},
		{"ecs range no task", nodeProps(2, 0, `{"targetNodes":":","ecsProperties":{"taskProperties":[]}}`), "nodeRangeProperties[0]: ecsProperties.taskProperties has 0 tasks"},
		{"ecs range no essential", nodeProps(2, 0, `{"targetNodes":":","ecsProperties":{"taskProperties":[{"containers":[{"name":"a","image":"b","essential":false,"resourceRequirements":[{"type":"VCPU","value":"1"},{"type":"MEMORY","value":"32"}]}]}]}}`), "nodeRangeProperties[0]: ecsProperties.taskProperties[0].containers has no essential container"},
		{"ecs range no memory", nodeProps(2, 0, `{"targetNodes":":","ecsProperties":{"taskProperties":[{"containers":[{"name":"a","image":"b","resourceRequirements":[{"type":"VCPU","value":"1"}]}]}]}}`), "has no MEMORY"},
		{"ecs and container", nodeProps(2, 0, `{"targetNodes":":","container":`+nodeContainer+`,"ecsProperties":`+nodeTask+`}`), "gives both container and ecsProperties"},
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
		{"override ecs of a container range", nodeProps(2, 0, rng(":")), `{"nodePropertyOverrides":[{"targetNodes":"1","ecsPropertiesOverride":{}}]}`, "nodePropertyOverrides[0].ecsPropertiesOverride: nodes 1 run a container, not ecsProperties: use containerOverrides"},
		{"override container of a task range", nodeProps(2, 0, taskRng(":")), `{"nodePropertyOverrides":[{"targetNodes":"1","containerOverrides":{"command":["x"]}}]}`, "nodePropertyOverrides[0].containerOverrides: nodes 1 run ecsProperties (a task), not a container: use ecsPropertiesOverride"},
		{"override both", nodeProps(2, 0, taskRng(":")), `{"nodePropertyOverrides":[{"targetNodes":"1","containerOverrides":{},"ecsPropertiesOverride":{}}]}`, "gives both containerOverrides and ecsPropertiesOverride"},
		{"override unknown task container", nodeProps(2, 0, taskRng(":")), `{"nodePropertyOverrides":[{"targetNodes":"1","ecsPropertiesOverride":{"taskProperties":[{"containers":[{"name":"nope","command":["x"]}]}]}}]}`, `nodes 1: nodeOverrides ecsPropertiesOverride.taskProperties[0].containers[0] names "nope", which is not a container`},
		{"override task reserved env", nodeProps(2, 0, taskRng(":")), `{"nodePropertyOverrides":[{"targetNodes":"1","ecsPropertiesOverride":{"taskProperties":[{"containers":[{"name":"main","environment":[{"name":"AWS_BATCH_JOB_ID","value":"x"}]}]}]}}]}`, "reserved"},
		{"override task bad resource", nodeProps(2, 0, taskRng(":")), `{"nodePropertyOverrides":[{"targetNodes":"1","ecsPropertiesOverride":{"taskProperties":[{"containers":[{"name":"main","resourceRequirements":[{"type":"VCPU","value":"0.5"}]}]}]}}]}`, "nodes 1: ecsProperties.taskProperties[0] (the sum of its containers) VCPU 0.5 is invalid on EC2"},
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

// Node ranges that run a task (ecsProperties): resolved per range with
// the parameters and each ecsPropertiesOverride that applies, in order;
// the nodes' needs are the sums of their tasks' containers.
func TestResolveNodeTasks(t *testing.T) {
	def := &batch.JobDefinition{JobDefinitionArn: "arn:def", NodeProperties: nodeProps(4, 0, taskRng("0:"), rng("3"))}
	ov := json.RawMessage(`{"nodePropertyOverrides":[
		{"targetNodes":"1:2","ecsPropertiesOverride":{"taskProperties":[{"containers":[{"name":"main","command":["echo","a","Ref::what"],"environment":[{"name":"X","value":"1"}]}]}]}},
		{"targetNodes":"2","ecsPropertiesOverride":{"taskProperties":[{"containers":[{"name":"main","resourceRequirements":[{"type":"GPU","value":"2"}]}]}]}},
		{"targetNodes":"3","containerOverrides":{"command":["c"]}}]}`)
	np, err := resolveNodeProperties(def, ov, map[string]string{"what": "work"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range np.NodeRangeProperties {
		var what string
		if r.EcsProperties != nil {
			what = "task " + r.EcsProperties.TaskProperties[0].Containers[1].Command[1]
		} else {
			what = "container " + r.Container.Command[0]
		}
		got = append(got, r.TargetNodes+"="+what)
	}
	if want := []string{"0=task work", "1=task a", "2=task a", "3=container c"}; !equalStrings(got, want) {
		t.Fatalf("ranges %v, want %v", got, want)
	}
	if tk := np.NodeTask(2); tk == nil || tk.Containers[1].Command[2] != "work" || len(tk.Containers[1].Environment) != 1 {
		t.Fatalf("node 2's task %+v: want both overrides, Ref:: substituted", tk)
	}
	res := np.NodeResources()
	if res[0].GPUs != 1 || res[0].VCPUs != 1 || res[0].MemoryMiB != 96 || res[2].GPUs != 2 || res[3].GPUs != 0 {
		t.Fatalf("node resources %+v: want each task's sum (1 GPU, node 2 two) and node 3's container", res)
	}
	if np.NodeContainer(1) != nil || np.NodeContainer(3) == nil {
		t.Fatal("NodeContainer does not follow the resolved ranges")
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
