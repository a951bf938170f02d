package scheduler

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/batchd/batchd/pkg/batch"
)

// The planner's view of a record decoded from its part is the view of the
// whole record.
func TestDecodeRecordMatchesFullRecord(t *testing.T) {
	prio := 7
	idx := 3
	full := batch.JobDetail{JobID: "p:3", JobQueue: batch.ARN(batch.KindJobQueue, "q"), Status: batch.StatusRunnable,
		StatusReason: "Waiting for capacity", ShareIdentifier: "a", SchedulingPriority: &prio,
		Attempts:        []batch.AttemptDetail{{StatusReason: "x"}, {StatusReason: "y"}},
		DependsOn:       []batch.JobDependency{{JobID: "d1"}, {JobID: "p", Type: "N_TO_N"}},
		ArrayProperties: &batch.ArrayPropertiesDetail{Index: &idx, MaxRunningJobs: 2},
		ConsumableResourceProperties: &batch.ConsumableResourceProperties{ConsumableResourceList: []batch.ConsumableResourceRequirement{
			{ConsumableResource: "lic", Quantity: 2}}},
		ComputeEnvironmentName: "ce", HostID: "h1", TraceParent: "00-abc-def-01", Seq: 42,
		Container: &batch.ContainerDetail{Image: "img", Command: []string{"sleep", "1"}, Environment: []batch.KeyValuePair{{Name: "A", Value: "B"}},
			ResourceRequirements: []batch.ResourceRequirement{{Type: "VCPU", Value: "0.5"}, {Type: "MEMORY", Value: "256"}, {Type: "GPU", Value: "1"}}},
		Tags: map[string]string{"k": "v"},
	}
	data, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	part, err := decodeRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := planJob(&part), planJob(&full); !reflect.DeepEqual(got, want) {
		t.Errorf("planJob of the decoded part = %+v\nwant %+v", got, want)
	}
	legacy := batch.JobDetail{JobID: "l", JobQueueName: "q", Status: batch.StatusRunnable, Attempts: []batch.AttemptDetail{},
		Container: &batch.ContainerDetail{Vcpus: 2, Memory: 512}}
	data, _ = json.Marshal(legacy)
	part, _ = decodeRecord(data)
	if got, want := planJob(&part), planJob(&legacy); !reflect.DeepEqual(got, want) {
		t.Errorf("legacy vcpus/memory: %+v, want %+v", got, want)
	}
	// A multi-container job needs the sum of its containers' VCPU,
	// MEMORY and GPU.
	req := func(v, m, g string) []batch.ResourceRequirement {
		out := []batch.ResourceRequirement{{Type: "MEMORY", Value: m}}
		if v != "" {
			out = append(out, batch.ResourceRequirement{Type: "VCPU", Value: v})
		}
		if g != "" {
			out = append(out, batch.ResourceRequirement{Type: "GPU", Value: g})
		}
		return out
	}
	task := batch.JobDetail{JobID: "t", JobQueueName: "q", Status: batch.StatusRunnable, Attempts: []batch.AttemptDetail{},
		EcsProperties: &batch.EcsPropertiesDetail{TaskProperties: []batch.EcsTaskDetails{{Containers: []batch.TaskContainerDetails{
			{TaskContainerProperties: batch.TaskContainerProperties{Name: "a", Image: "img", ResourceRequirements: req("1", "64", "1")}},
			{TaskContainerProperties: batch.TaskContainerProperties{Name: "b", Image: "img", ResourceRequirements: req("2", "32", "1")}},
			{TaskContainerProperties: batch.TaskContainerProperties{Name: "c", Image: "img", ResourceRequirements: req("", "16", "")}},
		}}}}}
	data, _ = json.Marshal(task)
	part, _ = decodeRecord(data)
	got, want := planJob(&part), planJob(&task)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("task: %+v, want %+v", got, want)
	}
	if got.VCPU != 3000 || got.MemoryMiB != 112 || got.GPUs != 2 {
		t.Errorf("task needs %d milli-vCPUs, %d MiB, %d GPUs; want the sum of its containers: 3000, 112, 2", got.VCPU, got.MemoryMiB, got.GPUs)
	}
}

// BenchmarkDecodeRecord compares the planner's decoding of a finished
// job's record (two attempts, an environment) with decoding it whole.
func BenchmarkDecodeRecord(b *testing.B) {
	code := 0
	rec := batch.JobDetail{JobID: "j", JobQueue: batch.ARN(batch.KindJobQueue, "q"), Status: batch.StatusSucceeded,
		DependsOn: []batch.JobDependency{}, Tags: map[string]string{"team": "a", "cost": "b"},
		Container: &batch.ContainerDetail{Image: "localhost/batch-sample:latest", Command: []string{"sh", "-c", "echo hello; sleep 1"},
			Environment:          []batch.KeyValuePair{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}, {Name: "C", Value: "3"}},
			ResourceRequirements: []batch.ResourceRequirement{{Type: "VCPU", Value: "1"}, {Type: "MEMORY", Value: "64"}},
			ExitCode:             &code, TaskArn: "abcdef0123456789", LogStreamName: "batch.logs.j.2"}}
	for range 2 {
		rec.Attempts = append(rec.Attempts, batch.AttemptDetail{StartedAt: 1, StoppedAt: 2, StatusReason: "Essential container in task exited",
			Container: &batch.AttemptContainerDetail{ExitCode: &code, TaskArn: "abcdef0123456789", LogStreamName: "batch.logs.j.1"}})
	}
	data, _ := json.Marshal(rec)
	b.Run("part", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeRecord(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("whole", func(b *testing.B) {
		for b.Loop() {
			var r batch.JobDetail
			if err := json.Unmarshal(data, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
