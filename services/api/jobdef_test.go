package api

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/batchd/batchd/pkg/batch"
)

func TestRevisionNumbering(t *testing.T) {
	for _, tc := range []struct {
		revs []int
		want int
	}{
		{nil, 1},
		{[]int{1}, 2},
		{[]int{1, 2, 3}, 4},
		{[]int{1, 7}, 8}, // gaps are never refilled
	} {
		if got := nextRevision(tc.revs); got != tc.want {
			t.Errorf("nextRevision(%v) = %d, want %d", tc.revs, got, tc.want)
		}
	}
	for key, want := range map[string]struct {
		name string
		rev  int
		ok   bool
	}{
		"sleep.1":   {"sleep", 1, true},
		"my-def.12": {"my-def", 12, true},
		"x.0":       {"", 0, false},
		"x":         {"", 0, false},
		"x.y":       {"", 0, false},
	} {
		name, rev, ok := parseDefKey(key)
		if name != want.name || rev != want.rev || ok != want.ok {
			t.Errorf("parseDefKey(%q) = %q %d %v", key, name, rev, ok)
		}
	}
	if defKey("sleep", 3) != "sleep.3" {
		t.Fatal("defKey")
	}

	// The revision index follows the cache, in any order of arrival.
	d := newDefStore(nil)
	for _, rev := range []int{3, 1, 2, 2} {
		d.apply(defKey("a", rev), uint64(rev), &batch.JobDefinition{Revision: rev})
	}
	d.apply(defKey("b", 1), 10, &batch.JobDefinition{Revision: 1})
	if got := d.revisions("a"); !reflect.DeepEqual(got, []int{1, 2, 3}) {
		t.Fatalf("revisions(a) = %v", got)
	}
	if got := nextRevision(d.revisions("a")); got != 4 {
		t.Fatalf("next revision of a = %d", got)
	}
	d.apply(defKey("b", 1), 11, nil)
	if got := d.revisions("b"); len(got) != 0 {
		t.Fatalf("revisions(b) after delete = %v", got)
	}
}

func TestNewJobDefinition(t *testing.T) {
	container := func() *batch.RegisterJobDefinitionInput {
		return &batch.RegisterJobDefinitionInput{
			JobDefinitionName: "d", Type: "container",
			ContainerProperties: &batch.ContainerProperties{
				Image: "busybox", ResourceRequirements: []batch.ResourceRequirement{req("VCPU", "1"), req("MEMORY", "64")},
				EphemeralStorage: json.RawMessage("null"),
			},
		}
	}
	for _, tc := range []struct {
		name   string
		change func(*batch.RegisterJobDefinitionInput)
		want   string
	}{
		{"valid", func(*batch.RegisterJobDefinitionInput) {}, ""},
		{"bad name", func(in *batch.RegisterJobDefinitionInput) { in.JobDefinitionName = "a:b" }, `jobDefinitionName "a:b" is invalid`},
		{"no type", func(in *batch.RegisterJobDefinitionInput) { in.Type = "" }, "type is required: use container or multinode"},
		{"bad type", func(in *batch.RegisterJobDefinitionInput) { in.Type = "Container" }, `type "Container" is invalid`},
		{"no image", func(in *batch.RegisterJobDefinitionInput) { in.ContainerProperties.Image = "" }, "containerProperties.image is required"},
		{"no container", func(in *batch.RegisterJobDefinitionInput) { in.ContainerProperties = nil }, "exactly one of containerProperties, ecsProperties or eksProperties"},
		{"container and ecs", func(in *batch.RegisterJobDefinitionInput) { in.EcsProperties = json.RawMessage(`{}`) }, "exactly one of"},
		{"ecs only", func(in *batch.RegisterJobDefinitionInput) {
			in.ContainerProperties, in.EcsProperties = nil, json.RawMessage(`{"taskProperties":[{"containers":[{"image":"bb","resourceRequirements":[{"type":"VCPU","value":"1"},{"type":"MEMORY","value":"64"}]}]}]}`)
		}, ""},
		{"ecs without tasks", func(in *batch.RegisterJobDefinitionInput) {
			in.ContainerProperties, in.EcsProperties = nil, json.RawMessage(`{"taskProperties":[]}`)
		}, "give exactly one"},
		{"multinode", func(in *batch.RegisterJobDefinitionInput) {
			in.Type, in.ContainerProperties, in.NodeProperties = "multinode", nil, json.RawMessage(`{"numNodes":2,"mainNode":0,"nodeRangeProperties":[{"targetNodes":"0:","container":{"image":"busybox","resourceRequirements":[{"type":"VCPU","value":"1"},{"type":"MEMORY","value":"64"}]}}]}`)
		}, ""},
		{"multinode without ranges", func(in *batch.RegisterJobDefinitionInput) {
			in.Type, in.ContainerProperties, in.NodeProperties = "multinode", nil, json.RawMessage(`{"numNodes":2}`)
		}, "nodeProperties.nodeRangeProperties is required"},
		{"multinode without nodes", func(in *batch.RegisterJobDefinitionInput) { in.Type, in.ContainerProperties = "multinode", nil }, "nodeProperties is required"},
		{"multinode on fargate", func(in *batch.RegisterJobDefinitionInput) {
			in.Type, in.ContainerProperties, in.NodeProperties = "multinode", nil, json.RawMessage(`{"numNodes":2}`)
			in.PlatformCapabilities = []string{"FARGATE"}
		}, "do not run on FARGATE"},
		{"missing memory", func(in *batch.RegisterJobDefinitionInput) {
			in.ContainerProperties.ResourceRequirements = []batch.ResourceRequirement{req("VCPU", "1")}
		}, "has no MEMORY"},
		{"fargate quarter", func(in *batch.RegisterJobDefinitionInput) {
			in.PlatformCapabilities = []string{"FARGATE"}
			in.ContainerProperties.ResourceRequirements = []batch.ResourceRequirement{req("VCPU", "0.25"), req("MEMORY", "512")}
		}, ""},
		{"ec2 quarter", func(in *batch.RegisterJobDefinitionInput) {
			in.ContainerProperties.ResourceRequirements = []batch.ResourceRequirement{req("VCPU", "0.25"), req("MEMORY", "512")}
		}, "need platformCapabilities FARGATE"},
		{"reserved env", func(in *batch.RegisterJobDefinitionInput) {
			in.ContainerProperties.Environment = []batch.KeyValuePair{{Name: "AWS_BATCH_CE_NAME", Value: "x"}}
		}, "AWS_BATCH_CE_NAME is not allowed"},
		{"host path on fargate", func(in *batch.RegisterJobDefinitionInput) {
			in.PlatformCapabilities = []string{"FARGATE"}
			in.ContainerProperties.Volumes = []batch.Volume{{Name: "v", Host: &batch.Host{SourcePath: "/data"}}}
		}, "host.sourcePath is not allowed on FARGATE"},
		{"instance type", func(in *batch.RegisterJobDefinitionInput) { in.ContainerProperties.InstanceType = "m5.large" }, "instanceType applies only to multi-node"},
		{"timeout", func(in *batch.RegisterJobDefinitionInput) { in.Timeout = &batch.JobTimeout{AttemptDurationSeconds: 5} }, "too short"},
		{"retry", func(in *batch.RegisterJobDefinitionInput) {
			in.RetryStrategy = &batch.RetryStrategy{EvaluateOnExit: []batch.EvaluateOnExit{{Action: "EXIT"}}}
		}, "RetryAttempts must be provided"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := container()
			tc.change(in)
			def, err := newJobDefinition(in)
			wantErr(t, err, tc.want)
			if err != nil {
				return
			}
			if def.Status != defActive || def.Type != in.Type {
				t.Fatalf("definition = %+v", def)
			}
			if def.ContainerProperties != nil && def.ContainerProperties.EphemeralStorage != nil {
				t.Fatal("a JSON null pass-through field was kept")
			}
		})
	}
}
