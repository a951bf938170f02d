package scheduler

import (
	"reflect"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

// A placement carries the container settings NewContainerSpec builds from
// the record, plus the AWS_BATCH_* variables; a record with settings the
// api refuses now is placed with the reason, for the launcher to fail it.
func TestPlacementCarriesContainerSettings(t *testing.T) {
	r := newRig(t)
	r.put(events.BucketEnvs, "ce", batch.ComputeEnvironmentDetail{ComputeEnvironmentName: "ce", Type: "MANAGED",
		State: "ENABLED", Status: "VALID", ComputeResources: &batch.ComputeResource{Type: "EC2", MaxvCpus: 4}})
	r.heartbeat(events.Host{ID: "h1", Name: "h1", VCPUs: 4, MemoryMiB: 4096, StartedAt: time.Now().UnixMilli()})
	r.put(events.BucketQueues, "q", batch.JobQueueDetail{JobQueueName: "q", State: "ENABLED", Priority: 1,
		ComputeEnvironmentOrder: []batch.ComputeEnvironmentOrder{{Order: 1, ComputeEnvironment: "ce"}}})
	r.job("ok", "q", 1, "", func(j *batch.JobDetail) {
		j.Container.Environment = []batch.KeyValuePair{{Name: "A", Value: "1"}}
		j.Container.Volumes = []batch.Volume{{Name: "in", Host: &batch.Host{SourcePath: "/data"}}}
		j.Container.MountPoints = []batch.MountPoint{{SourceVolume: "in", ContainerPath: "/in", ReadOnly: true}}
		j.Container.Secrets = []batch.Secret{{Name: "S", ValueFrom: "s"}}
		j.Container.LinuxParameters = &batch.LinuxParameters{InitProcessEnabled: true}
	})
	r.job("bad", "q", 2, "", func(j *batch.JobDetail) {
		j.Container.Ulimits = []batch.Ulimit{{Name: "files", SoftLimit: 1, HardLimit: 1}}
	})
	r.start()
	placed, _ := r.collect(2, nil)
	c := placed["ok"].Container
	if c.Refused != "" || c.Environment["A"] != "1" || c.Environment["AWS_BATCH_JOB_ID"] != "ok" || !c.Init ||
		len(c.Mounts) != 1 || !reflect.DeepEqual(c.Mounts[0], events.Mount{Kind: events.MountBind, Source: "/data", Destination: "/in", ReadOnly: true}) ||
		len(c.Secrets) != 1 || c.Secrets[0].Env != "S" || c.VCPUs != 1 || c.MemoryMiB != 128 {
		t.Fatalf("placed container %+v", c)
	}
	if bad := placed["bad"].Container; bad.Refused == "" || bad.Image == "" {
		t.Fatalf("refused settings placed as %+v", bad)
	}
}
