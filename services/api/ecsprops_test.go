package api

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/batchd/batchd/pkg/batch"
)

// ecsDef is a valid three-container task: an init container (SUCCESS), a
// sidecar (START) and the essential main container.
const ecsDef = `{"taskProperties":[{"volumes":[{"name":"scratch","host":{}}],"containers":[
 {"name":"init","image":"bb","essential":false,"command":["true"],"resourceRequirements":[{"type":"MEMORY","value":"32"}]},
 {"name":"side","image":"bb","essential":false,"resourceRequirements":[{"type":"VCPU","value":"1"},{"type":"MEMORY","value":"32"}]},
 {"name":"main","image":"bb","command":["echo","Ref::word"],"mountPoints":[{"sourceVolume":"scratch","containerPath":"/s"}],
  "dependsOn":[{"containerName":"init","condition":"SUCCESS"},{"containerName":"side","condition":"START"}],
  "resourceRequirements":[{"type":"VCPU","value":"2"},{"type":"MEMORY","value":"64"}]}]}]}`

func TestCheckEcsProperties(t *testing.T) {
	p, err := checkEcsProperties(json.RawMessage(ecsDef), false)
	wantErr(t, err, "")
	if n := len(p.TaskProperties[0].Containers); n != 3 {
		t.Fatalf("containers = %d", n)
	}
	two := func(extra string) string {
		return `{"taskProperties":[{"containers":[{"name":"a","image":"bb","resourceRequirements":[{"type":"VCPU","value":"1"},{"type":"MEMORY","value":"32"}]}` + extra + `]}]}`
	}
	many := `{"taskProperties":[{"containers":[`
	for i := range 11 {
		if i > 0 {
			many += ","
		}
		many += `{"name":"c` + string(rune('a'+i)) + `","image":"bb","resourceRequirements":[{"type":"VCPU","value":"1"},{"type":"MEMORY","value":"32"}]}`
	}
	many += `]}]}`
	for _, tc := range []struct {
		name, raw, want string
	}{
		{"valid two", two(`,{"name":"b","image":"bb","essential":false,"dependsOn":[{"containerName":"a","condition":"START"}]}`), ""},
		{"sole unnamed", `{"taskProperties":[{"containers":[{"image":"bb","resourceRequirements":[{"type":"VCPU","value":"1"},{"type":"MEMORY","value":"32"}]}]}]}`, ""},
		{"not json shape", `{"taskProperties":{}}`, "ecsProperties: json"},
		{"two tasks", `{"taskProperties":[{"containers":[]},{"containers":[]}]}`, "has 2 tasks: give exactly one"},
		{"no containers", `{"taskProperties":[{"containers":[]}]}`, "containers is empty"},
		{"eleven", many, "has 11 containers: a task holds at most 10"},
		{"unnamed of two", two(`,{"image":"bb"}`), "containers[1].name is required in a task of several containers"},
		{"bad name", two(`,{"name":"b.c","image":"bb"}`), `name "b.c" is invalid`},
		{"duplicate", two(`,{"name":"a","image":"bb"}`), `two containers named "a"`},
		{"no image", two(`,{"name":"b"}`), "containers[1] (b).image is required"},
		{"no essential", `{"taskProperties":[{"containers":[{"name":"a","image":"bb","essential":false,"resourceRequirements":[{"type":"VCPU","value":"1"},{"type":"MEMORY","value":"32"}]}]}]}`, "has no essential container"},
		{"unknown target", two(`,{"name":"b","image":"bb","dependsOn":[{"containerName":"zz","condition":"START"}]}`), `dependsOn names "zz", which is not a container of the task`},
		{"self", two(`,{"name":"b","image":"bb","dependsOn":[{"containerName":"b","condition":"START"}]}`), "cannot wait for itself"},
		{"success on essential", two(`,{"name":"b","image":"bb","dependsOn":[{"containerName":"a","condition":"SUCCESS"}]}`), "dependsOn a with condition SUCCESS, but a is essential"},
		{"complete on essential", two(`,{"name":"b","image":"bb","dependsOn":[{"containerName":"a","condition":"COMPLETE"}]}`), "condition COMPLETE, but a is essential"},
		{"complete by essential on non-essential", two(`,{"name":"b","image":"bb","essential":false},{"name":"c","image":"bb","dependsOn":[{"containerName":"b","condition":"COMPLETE"}]}`), ""},
		{"healthy", two(`,{"name":"b","image":"bb","dependsOn":[{"containerName":"a","condition":"HEALTHY"}]}`), "HEALTHY needs a health check"},
		{"bad condition", two(`,{"name":"b","image":"bb","dependsOn":[{"containerName":"a","condition":"DONE"}]}`), `condition "DONE" is invalid`},
		{"no condition", two(`,{"name":"b","image":"bb","dependsOn":[{"containerName":"a"}]}`), "has no condition"},
		{"twice", two(`,{"name":"b","image":"bb","dependsOn":[{"containerName":"a","condition":"START"},{"containerName":"a","condition":"START"}]}`), "names a twice"},
		{"cycle", two(`,{"name":"b","image":"bb","essential":false,"dependsOn":[{"containerName":"c","condition":"START"}]},{"name":"c","image":"bb","essential":false,"dependsOn":[{"containerName":"b","condition":"COMPLETE"}]}`), "has a cycle: b -> c -> b"},
		{"no vcpu", `{"taskProperties":[{"containers":[{"name":"a","image":"bb","resourceRequirements":[{"type":"MEMORY","value":"32"}]}]}]}`, "has no VCPU"},
		{"no memory", `{"taskProperties":[{"containers":[{"name":"a","image":"bb","resourceRequirements":[{"type":"VCPU","value":"1"}]}]}]}`, "has no MEMORY"},
		{"nothing", `{"taskProperties":[{"containers":[{"name":"a","image":"bb"}]}]}`, "the sum of its containers"},
		{"bad resource", two(`,{"name":"b","image":"bb","resourceRequirements":[{"type":"VCPU","value":"x"}]}`), `containers[1] (b): resourceRequirements VCPU value "x"`},
		{"reserved env", two(`,{"name":"b","image":"bb","environment":[{"name":"AWS_BATCH_X","value":"1"}]}`), "reserved"},
		{"unknown volume", two(`,{"name":"b","image":"bb","mountPoints":[{"sourceVolume":"v","containerPath":"/v"}]}`), `sourceVolume "v", which is not one of the task's volumes`},
		{"relative host path", `{"taskProperties":[{"volumes":[{"name":"v","host":{"sourcePath":"tmp"}}],"containers":[{"name":"a","image":"bb"}]}]}`, "must be an absolute path"},
		{"ipc", `{"taskProperties":[{"ipcMode":"shared","containers":[{"name":"a","image":"bb"}]}]}`, `ipcMode "shared" is invalid`},
		{"gpu", two(`,{"name":"b","image":"bb","resourceRequirements":[{"type":"GPU","value":"1"}]}`), ""},
		{"bad gpu", two(`,{"name":"b","image":"bb","resourceRequirements":[{"type":"GPU","value":"1.5"}]}`), `containers[1] (b): resourceRequirements GPU value "1.5" must be a whole number`},
		{"start timeout", two(`,{"name":"b","image":"bb","startTimeout":10}`), "startTimeout is not supported"},
		{"stop timeout", two(`,{"name":"b","image":"bb","stopTimeout":-1}`), "stopTimeout -1 is out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkEcsProperties(json.RawMessage(tc.raw), false)
			wantErr(t, err, tc.want)
		})
	}
}

// A container's GPUs: allowed on EC2, refused on FARGATE; the task holds
// the sum of its containers' GPUs, and ecsPropertiesOverride changes one
// container's.
func TestEcsGPUs(t *testing.T) {
	gpuTask := `{"taskProperties":[{"containers":[
 {"name":"a","image":"bb","resourceRequirements":[{"type":"VCPU","value":"1"},{"type":"MEMORY","value":"32"},{"type":"GPU","value":"1"}]},
 {"name":"b","image":"bb","resourceRequirements":[{"type":"VCPU","value":"1"},{"type":"MEMORY","value":"32"},{"type":"GPU","value":"2"}]},
 {"name":"c","image":"bb","essential":false,"resourceRequirements":[{"type":"MEMORY","value":"32"}]}]}]}`
	_, err := checkEcsProperties(json.RawMessage(gpuTask), true)
	wantErr(t, err, "containers[0] (a) asks for GPU, which is not available on FARGATE")
	d, err := resolveTask(json.RawMessage(gpuTask), nil, nil, false)
	wantErr(t, err, "")
	job := batch.JobDetail{EcsProperties: d}
	if r := job.Resources(); r.GPUs != 3 || r.VCPUs != 2 || r.MemoryMiB != 96 {
		t.Fatalf("job resources = %+v, want 2 vCPUs, 96 MiB and 3 GPUs", r)
	}
	ov := `{"taskProperties":[{"containers":[{"name":"b","resourceRequirements":[{"type":"GPU","value":"0"}]},
	 {"name":"c","resourceRequirements":[{"type":"GPU","value":"4"}]}]}]}`
	d, err = resolveTask(json.RawMessage(gpuTask), json.RawMessage(ov), nil, false)
	wantErr(t, err, "")
	job = batch.JobDetail{EcsProperties: d}
	if r := job.Resources(); r.GPUs != 5 {
		t.Fatalf("job resources = %+v, want 1 + 0 + 4 GPUs after the override", r)
	}
	if got := d.Task().Containers[2].ResourceRequirements; len(got) != 2 || got[1].Type != batch.ResourceGPU || got[1].Value != "4" {
		t.Fatalf("container c's resourceRequirements = %+v, want MEMORY and the override's GPU", got)
	}
}

func TestResolveTask(t *testing.T) {
	ov := `{"taskProperties":[{"containers":[{"name":"main","command":["echo","Ref::word","x"],
	  "environment":[{"name":"A","value":"2"}],"resourceRequirements":[{"type":"MEMORY","value":"128"}]}]}]}`
	d, err := resolveTask(json.RawMessage(ecsDef), json.RawMessage(ov), map[string]string{"word": "hi"}, false)
	wantErr(t, err, "")
	task := d.Task()
	main := task.Containers[2]
	if got := main.Command; len(got) != 3 || got[1] != "hi" {
		t.Errorf("command = %q, want Ref:: substituted in the override's command", got)
	}
	if len(main.Environment) != 1 || main.Environment[0].Value != "2" {
		t.Errorf("environment = %v", main.Environment)
	}
	job := batch.JobDetail{EcsProperties: d}
	if r := job.Resources(); r.VCPUs != 3 || r.MemoryMiB != 32+32+128 {
		t.Errorf("job resources = %+v, want the sum of the containers (3 vCPU, 192 MiB)", r)
	}
	for _, tc := range []struct{ name, ov, want string }{
		{"unknown container", `{"taskProperties":[{"containers":[{"name":"nope","command":["x"]}]}]}`, `names "nope", which is not a container`},
		{"unnamed", `{"taskProperties":[{"containers":[{"command":["x"]}]}]}`, "name is required"},
		{"two tasks", `{"taskProperties":[{},{}]}`, "give at most one"},
		{"empty arg", `{"taskProperties":[{"containers":[{"name":"main","command":[""]}]}]}`, "empty string"},
		{"reserved", `{"taskProperties":[{"containers":[{"name":"main","environment":[{"name":"AWS_BATCH_JOB_ID","value":"x"}]}]}]}`, "reserved"},
		{"bad resources", `{"taskProperties":[{"containers":[{"name":"main","resourceRequirements":[{"type":"VCPU","value":"0"}]}]}]}`, "VCPU value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := resolveTask(json.RawMessage(ecsDef), json.RawMessage(tc.ov), nil, false)
			wantErr(t, err, tc.want)
		})
	}
}

// Each container of a task goes through the same settings checks as
// containerProperties, at RegisterJobDefinition and at SubmitJob (with
// ecsPropertiesOverride applied); the SDK's shapes round-trip.
func TestEcsPropertiesThroughTheAPI(t *testing.T) {
	a := startAPI(t, nil, Config{})
	c := a.client
	res := []types.ResourceRequirement{{Type: types.ResourceTypeVcpu, Value: aws.String("1")}, {Type: types.ResourceTypeMemory, Value: aws.String("64")}}
	def := func(name string, side types.TaskContainerProperties) error {
		side.Name, side.Image, side.Essential = aws.String("side"), aws.String("busybox"), aws.Bool(false)
		_, err := c.RegisterJobDefinition(ctx(t), &awsbatch.RegisterJobDefinitionInput{JobDefinitionName: aws.String(name),
			Type: types.JobDefinitionTypeContainer, EcsProperties: &types.EcsProperties{TaskProperties: []types.EcsTaskProperties{{
				Containers: []types.TaskContainerProperties{{Name: aws.String("main"), Image: aws.String("busybox"), ResourceRequirements: res}, side}}}}})
		return err
	}
	clientException(t, def("ulimit", types.TaskContainerProperties{Ulimits: []types.Ulimit{{Name: aws.String("files"), SoftLimit: aws.Int32(1), HardLimit: aws.Int32(1)}}}),
		`containers[1] (side): ulimits[0].name "files" is invalid`)
	clientException(t, def("dep", types.TaskContainerProperties{DependsOn: []types.TaskContainerDependency{{ContainerName: aws.String("main"), Condition: aws.String("SUCCESS")}}}),
		"dependsOn main with condition SUCCESS, but main is essential")
	if err := def("ok", types.TaskContainerProperties{}); err != nil {
		t.Fatal(err)
	}
	out, err := c.DescribeJobDefinitions(ctx(t), &awsbatch.DescribeJobDefinitionsInput{JobDefinitionName: aws.String("ok")})
	if err != nil || len(out.JobDefinitions) != 1 || out.JobDefinitions[0].EcsProperties == nil ||
		len(out.JobDefinitions[0].EcsProperties.TaskProperties[0].Containers) != 2 {
		t.Fatalf("describe = %+v, %v", out, err)
	}
}
