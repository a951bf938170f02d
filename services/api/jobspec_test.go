package api

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/batchd/batchd/pkg/batch"
)

func TestSubstituteRefs(t *testing.T) {
	params := map[string]string{"in": "a.txt", "input": "b.txt", "n": "3", "odd name": "x", "empty": ""}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"whole element", []string{"cat", "Ref::input"}, []string{"cat", "b.txt"}},
		{"whole element with odd name", []string{"Ref::odd name"}, []string{"x"}},
		{"embedded", []string{"--file=Ref::input"}, []string{"--file=b.txt"}},
		{"embedded longest name", []string{"Ref::in/Ref::input"}, []string{"a.txt/b.txt"}},
		{"name stops at dot", []string{"Ref::in.gz"}, []string{"a.txt.gz"}},
		{"two in one", []string{"Ref::n-Ref::n"}, []string{"Ref::n-Ref::n"}},
		{"two separated", []string{"Ref::n,Ref::n"}, []string{"3,3"}},
		{"unresolved whole", []string{"Ref::missing"}, []string{"Ref::missing"}},
		{"unresolved embedded", []string{"x=Ref::missing;y=Ref::n"}, []string{"x=Ref::missing;y=3"}},
		{"bare prefix", []string{"Ref::"}, []string{"Ref::"}},
		{"empty value", []string{"Ref::empty"}, []string{""}},
		{"no placeholders", []string{"echo", "hello"}, []string{"echo", "hello"}},
		{"nil command", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := substituteRefs(tc.args, params); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("substituteRefs(%q) = %q, want %q", tc.args, got, tc.want)
			}
		})
	}
	if got := substituteRefs([]string{"Ref::x"}, nil); got[0] != "Ref::x" {
		t.Fatalf("no parameters: got %q", got)
	}
}

func TestResolveContainer(t *testing.T) {
	base := func() *batch.ContainerProperties {
		return &batch.ContainerProperties{
			Image:                "busybox",
			Command:              []string{"echo", "Ref::msg"},
			Environment:          []batch.KeyValuePair{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}},
			ResourceRequirements: []batch.ResourceRequirement{req("VCPU", "1"), req("MEMORY", "512")},
			User:                 "nobody",
			Volumes:              []batch.Volume{{Name: "v"}},
		}
	}
	deprecated := &batch.ContainerProperties{Image: "busybox", Vcpus: 1, Memory: 256}
	params := map[string]string{"msg": "hi"}
	for _, tc := range []struct {
		name      string
		def       *batch.ContainerProperties
		ov        *batch.ContainerOverrides
		wantCmd   []string
		wantEnv   []batch.KeyValuePair
		wantReqs  []batch.ResourceRequirement
		wantVcpus int
		wantMem   int
	}{
		{name: "no overrides", def: base(), wantCmd: []string{"echo", "hi"},
			wantEnv:  []batch.KeyValuePair{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}},
			wantReqs: []batch.ResourceRequirement{req("VCPU", "1"), req("MEMORY", "512")}},
		{name: "command replaced then substituted", def: base(), ov: &batch.ContainerOverrides{Command: []string{"printf", "Ref::msg!"}},
			wantCmd:  []string{"printf", "hi!"},
			wantEnv:  []batch.KeyValuePair{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}},
			wantReqs: []batch.ResourceRequirement{req("VCPU", "1"), req("MEMORY", "512")}},
		{name: "environment merged", def: base(), ov: &batch.ContainerOverrides{Environment: []batch.KeyValuePair{{Name: "B", Value: "x"}, {Name: "C", Value: "3"}}},
			wantCmd:  []string{"echo", "hi"},
			wantEnv:  []batch.KeyValuePair{{Name: "A", Value: "1"}, {Name: "B", Value: "x"}, {Name: "C", Value: "3"}},
			wantReqs: []batch.ResourceRequirement{req("VCPU", "1"), req("MEMORY", "512")}},
		{name: "requirements replaced per type", def: base(), ov: &batch.ContainerOverrides{ResourceRequirements: []batch.ResourceRequirement{req("MEMORY", "1024"), req("GPU", "1")}},
			wantCmd:  []string{"echo", "hi"},
			wantEnv:  []batch.KeyValuePair{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}},
			wantReqs: []batch.ResourceRequirement{req("VCPU", "1"), req("MEMORY", "1024"), req("GPU", "1")}},
		{name: "deprecated override ignored over requirements", def: base(), ov: &batch.ContainerOverrides{Vcpus: 8, Memory: 9000},
			wantCmd:  []string{"echo", "hi"},
			wantEnv:  []batch.KeyValuePair{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}},
			wantReqs: []batch.ResourceRequirement{req("VCPU", "1"), req("MEMORY", "512")}},
		{name: "deprecated override applies to deprecated fields", def: deprecated, ov: &batch.ContainerOverrides{Vcpus: 2, Memory: 1024},
			wantVcpus: 2, wantMem: 1024},
		{name: "requirement override over deprecated fields", def: deprecated, ov: &batch.ContainerOverrides{ResourceRequirements: []batch.ResourceRequirement{req("VCPU", "4")}},
			wantReqs: []batch.ResourceRequirement{req("VCPU", "4")}, wantVcpus: 1, wantMem: 256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := json.Marshal(tc.def)
			c := resolveContainer(tc.def, tc.ov, params)
			if !reflect.DeepEqual(c.Command, tc.wantCmd) {
				t.Errorf("command = %q, want %q", c.Command, tc.wantCmd)
			}
			if !reflect.DeepEqual(c.Environment, tc.wantEnv) {
				t.Errorf("environment = %v, want %v", c.Environment, tc.wantEnv)
			}
			if !reflect.DeepEqual(c.ResourceRequirements, tc.wantReqs) {
				t.Errorf("resourceRequirements = %v, want %v", c.ResourceRequirements, tc.wantReqs)
			}
			if tc.wantVcpus != 0 && (c.Vcpus != tc.wantVcpus || c.Memory != tc.wantMem) {
				t.Errorf("vcpus/memory = %d/%d, want %d/%d", c.Vcpus, c.Memory, tc.wantVcpus, tc.wantMem)
			}
			if c.Image != tc.def.Image || c.User != tc.def.User || !reflect.DeepEqual(c.Volumes, tc.def.Volumes) {
				t.Errorf("pass-through fields lost: %+v", c)
			}
			if after, _ := json.Marshal(tc.def); string(after) != string(before) {
				t.Errorf("the definition was modified:\n%s\n%s", before, after)
			}
		})
	}
}

func testDefinition() *batch.JobDefinition {
	prio := 5
	return &batch.JobDefinition{
		JobDefinitionName: "d", JobDefinitionArn: batch.JobDefinitionARN("d", 2), Revision: 2, Status: defActive, Type: defContainer,
		Parameters:         map[string]string{"msg": "default", "n": "1"},
		SchedulingPriority: &prio,
		RetryStrategy:      &batch.RetryStrategy{Attempts: 2},
		Timeout:            &batch.JobTimeout{AttemptDurationSeconds: 600},
		ContainerProperties: &batch.ContainerProperties{
			Image: "busybox", Command: []string{"echo", "Ref::msg", "Ref::n"}, Vcpus: 1, Memory: 128,
		},
	}
}

func TestBuildJob(t *testing.T) {
	q := &batch.JobQueueDetail{JobQueueName: "q", JobQueueArn: batch.ARN(batch.KindJobQueue, "q")}
	in := &batch.SubmitJobInput{
		JobName: "j", JobQueue: "q", JobDefinition: "d",
		Parameters:         map[string]string{"msg": "hello"},
		ContainerOverrides: &batch.ContainerOverrides{Memory: 256},
		RetryStrategy:      &batch.RetryStrategy{Attempts: 3, EvaluateOnExit: []batch.EvaluateOnExit{{Action: "exit", OnExitCode: "1"}}},
		Tags:               map[string]string{"team": "x"},
	}
	j, err := buildJob(in, testDefinition(), q, "id-1", 1234)
	if err != nil {
		t.Fatal(err)
	}
	if j.JobArn != batch.ARN(batch.KindJob, "id-1") || j.JobQueue != q.JobQueueArn || j.JobQueueName != "q" || j.Status != batch.StatusSubmitted || j.CreatedAt != 1234 {
		t.Fatalf("identity fields wrong: %+v", j)
	}
	if j.JobDefinition != batch.JobDefinitionARN("d", 2) {
		t.Fatalf("jobDefinition = %s", j.JobDefinition)
	}
	if want := []string{"echo", "hello", "1"}; !reflect.DeepEqual(j.Container.Command, want) {
		t.Fatalf("command = %q, want %q", j.Container.Command, want)
	}
	if want := map[string]string{"msg": "hello", "n": "1"}; !reflect.DeepEqual(j.Parameters, want) {
		t.Fatalf("parameters = %v", j.Parameters)
	}
	if want := []batch.ResourceRequirement{req("VCPU", "1"), req("MEMORY", "256")}; !reflect.DeepEqual(j.Container.ResourceRequirements, want) {
		t.Fatalf("resourceRequirements = %v, want %v", j.Container.ResourceRequirements, want)
	}
	if j.RetryStrategy.Attempts != 3 || j.RetryStrategy.EvaluateOnExit[0].Action != "EXIT" {
		t.Fatalf("retryStrategy = %+v", j.RetryStrategy)
	}
	if j.Timeout.AttemptDurationSeconds != 600 || *j.SchedulingPriority != 5 {
		t.Fatalf("timeout/priority from definition lost: %+v %v", j.Timeout, *j.SchedulingPriority)
	}
	if j.DependsOn == nil || j.Attempts == nil || j.PlatformCapabilities == nil {
		t.Fatal("dependsOn, attempts and platformCapabilities must be empty lists, not null")
	}
	data, _ := json.Marshal(j)
	var back map[string]any
	_ = json.Unmarshal(data, &back)
	if _, ok := back["dependsOn"].([]any); !ok {
		t.Fatalf("dependsOn encodes as %v", back["dependsOn"])
	}

	// Overrides that break the resources are refused.
	in.ContainerOverrides = &batch.ContainerOverrides{ResourceRequirements: []batch.ResourceRequirement{req("VCPU", "0.5")}}
	_, err = buildJob(in, testDefinition(), q, "id-2", 1)
	wantErr(t, err, "VCPU 0.5 is invalid on EC2")
}

func TestCheckSubmitInput(t *testing.T) {
	ok := func() *batch.SubmitJobInput {
		return &batch.SubmitJobInput{JobName: "j", JobQueue: "q", JobDefinition: "d"}
	}
	neg, big := -1, 10000
	for _, tc := range []struct {
		name   string
		change func(*batch.SubmitJobInput)
		want   string
	}{
		{"valid", func(*batch.SubmitJobInput) {}, ""},
		{"bad name", func(in *batch.SubmitJobInput) { in.JobName = "my job" }, `jobName "my job" is invalid`},
		{"no queue", func(in *batch.SubmitJobInput) { in.JobQueue = "" }, "jobQueue is required"},
		{"no definition", func(in *batch.SubmitJobInput) { in.JobDefinition = "" }, "jobDefinition is required"},
		{"priority low", func(in *batch.SubmitJobInput) { in.SchedulingPriorityOverride = &neg }, "schedulingPriorityOverride -1 is out of range"},
		{"priority high", func(in *batch.SubmitJobInput) { in.SchedulingPriorityOverride = &big }, "out of range: use 0 to 9999"},
		{"array of one", func(in *batch.SubmitJobInput) { in.ArrayProperties = &batch.ArrayProperties{Size: 1} }, "arrayProperties.size 1 is out of range: use 2 to 10000"},
		{"array too big", func(in *batch.SubmitJobInput) { in.ArrayProperties = &batch.ArrayProperties{Size: 10001} }, "out of range"},
		{"array ok", func(in *batch.SubmitJobInput) { in.ArrayProperties = &batch.ArrayProperties{Size: 10000} }, ""},
		{"reserved env", func(in *batch.SubmitJobInput) {
			in.ContainerOverrides = &batch.ContainerOverrides{Environment: []batch.KeyValuePair{{Name: "AWS_BATCH_X"}}}
		}, "AWS_BATCH_X is not allowed"},
		{"empty command element", func(in *batch.SubmitJobInput) {
			in.ContainerOverrides = &batch.ContainerOverrides{Command: []string{"a", ""}}
		}, "empty string"},
		{"instance type", func(in *batch.SubmitJobInput) {
			in.ContainerOverrides = &batch.ContainerOverrides{InstanceType: "m5.large"}
		}, "only to multi-node"},
		{"short timeout", func(in *batch.SubmitJobInput) { in.Timeout = &batch.JobTimeout{AttemptDurationSeconds: 10} }, "too short"},
		{"retry", func(in *batch.SubmitJobInput) { in.RetryStrategy = &batch.RetryStrategy{Attempts: 20} }, "attempts 20 is out of range"},
		{"tags", func(in *batch.SubmitJobInput) {
			in.Tags = map[string]string{}
			for i := range 51 {
				in.Tags[string(rune('a'+i%26))+string(rune('a'+i/26))] = "v"
			}
		}, "51 tags: at most 50"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := ok()
			tc.change(in)
			wantErr(t, checkSubmitInput(in), tc.want)
		})
	}
}

func TestUnsupportedYet(t *testing.T) {
	in := &batch.SubmitJobInput{}
	def := testDefinition()
	wantErr(t, unsupportedYet(def, in), "")
	mnp := testDefinition()
	mnp.Type, mnp.NodeProperties = defMultinode, json.RawMessage(`{"numNodes":2}`)
	wantErr(t, unsupportedYet(mnp, in), "")
	wantErr(t, unsupportedYet(mnp, &batch.SubmitJobInput{ArrayProperties: &batch.ArrayProperties{Size: 3}}), "cannot run as an array job")
	ecs := testDefinition()
	ecs.EcsProperties = json.RawMessage(`{}`)
	wantErr(t, unsupportedYet(ecs, in), "")
	eks := testDefinition()
	eks.EksProperties = json.RawMessage(`{}`)
	wantErr(t, unsupportedYet(eks, in), "eksProperties (EKS jobs): running these is not supported yet")
	wantErr(t, unsupportedYet(def, &batch.SubmitJobInput{ArrayProperties: &batch.ArrayProperties{Size: 3}}), "")
}

func TestCheckOverridesFit(t *testing.T) {
	def := testDefinition()
	wantErr(t, checkOverridesFit(def, &batch.SubmitJobInput{ContainerOverrides: &batch.ContainerOverrides{}}), "")
	wantErr(t, checkOverridesFit(def, &batch.SubmitJobInput{NodeOverrides: json.RawMessage(`{"numNodes":2}`)}), "nodeOverrides apply only to multi-node parallel job definitions")
	wantErr(t, checkOverridesFit(def, &batch.SubmitJobInput{EcsPropertiesOverride: json.RawMessage(`{}`)}), "ecsPropertiesOverride applies only")
	wantErr(t, checkOverridesFit(def, &batch.SubmitJobInput{EksPropertiesOverride: json.RawMessage(`{}`)}), "eksPropertiesOverride applies only")
	wantErr(t, checkOverridesFit(def, &batch.SubmitJobInput{EksPropertiesOverride: json.RawMessage(`null`)}), "")
	mnp := testDefinition()
	mnp.ContainerProperties, mnp.NodeProperties = nil, json.RawMessage(`{"numNodes":2}`)
	wantErr(t, checkOverridesFit(mnp, &batch.SubmitJobInput{NodeOverrides: json.RawMessage(`{"numNodes":3}`)}), "")
	wantErr(t, checkOverridesFit(mnp, &batch.SubmitJobInput{ContainerOverrides: &batch.ContainerOverrides{}}), "containerOverrides apply only")
}
