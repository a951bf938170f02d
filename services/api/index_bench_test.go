package api

import (
	"encoding/json"
	"testing"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

// BenchmarkIndexUpdate measures what one job record change costs the
// index of each api replica: decoding the record and moving the job.
func BenchmarkIndexUpdate(b *testing.B) {
	exit := 1
	j := batch.JobDetail{
		JobArn: batch.ARN(batch.KindJob, "1"), JobName: "bench-job", JobID: "1", JobQueue: batch.ARN(batch.KindJobQueue, "q"), JobQueueName: "q",
		Status: batch.StatusRunning, Attempts: []batch.AttemptDetail{{Container: &batch.AttemptContainerDetail{ExitCode: &exit}, StartedAt: 1, StoppedAt: 2}},
		CreatedAt: 1_700_000_000_000, DependsOn: []batch.JobDependency{}, JobDefinition: batch.JobDefinitionARN("d", 1),
		Container: &batch.ContainerDetail{Image: "busybox", Command: []string{"sh", "-c", "sleep 1"},
			Environment:          []batch.KeyValuePair{{Name: "A", Value: "1"}},
			ResourceRequirements: []batch.ResourceRequirement{{Type: "VCPU", Value: "1"}, {Type: "MEMORY", Value: "128"}}},
		PlatformCapabilities: []string{}, Seq: 7,
	}
	running, _ := json.Marshal(j)
	j.Status = batch.StatusRunnable
	runnable, _ := json.Marshal(j)
	x := newJobIndex()
	key := events.Token(j.JobID)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		data := running
		if i%2 == 0 {
			data = runnable
		}
		var r jobRecord
		if err := json.Unmarshal(data, &r); err != nil {
			b.Fatal(err)
		}
		x.put(key, &r, int64(i))
	}
}
