package main

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go/jetstream"
)

// TestSimulatedHosts runs jobs on four simulated hosts of one batchd
// (--runtime sim): the hosts advertise themselves, jobs spread over them,
// run their command's sleep, print, and exit with their command's code.
func TestSimulatedHosts(t *testing.T) {
	d := startDaemon(t, "--runtime", "sim", "--sim-hosts", "4", "--host-vcpus", "2", "--host-memory", "1024")
	c := d.client()
	setupQueue(t, c, "sim", 8, "1", "64", "sh", "-c", `echo "hello $AWS_BATCH_JOB_ID"; sleep 0.5`)
	var ids []string
	for i := range 16 {
		ids = append(ids, submit(t, c, &batch.SubmitJobInput{JobName: aws.String(fmt.Sprintf("s%d", i)),
			JobQueue: aws.String("sim-queue"), JobDefinition: aws.String("sim-def")}))
	}
	exit3 := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("exit3"), JobQueue: aws.String("sim-queue"),
		JobDefinition: aws.String("sim-def"), ContainerOverrides: &types.ContainerOverrides{Command: []string{"sh", "-c", "exit 3"}}})
	jobs := waitFinal(t, c, 2*time.Minute, append(ids, exit3)...)
	nc := d.nats(t)
	for _, id := range ids {
		j := jobs[id]
		if j.Status != types.JobStatusSucceeded || len(j.Attempts) != 1 {
			t.Fatalf("job %s: %s with %d attempts (%s)", id, j.Status, len(j.Attempts), aws.ToString(j.StatusReason))
		}
		a := j.Attempts[0]
		if run := time.Duration(aws.ToInt64(a.StoppedAt)-aws.ToInt64(a.StartedAt)) * time.Millisecond; run < 500*time.Millisecond {
			t.Errorf("job %s ran %v, want at least its 0.5 s sleep", id, run)
		}
		if lines := jobLog(t, nc, id); !slices.Equal(lines, []string{"hello " + id}) {
			t.Errorf("job %s: log %q, want its hello", id, lines)
		}
	}
	if j := jobs[exit3]; j.Status != types.JobStatusFailed || aws.ToInt32(j.Container.ExitCode) != 3 {
		t.Errorf("exit 3: %s, exit code %v", j.Status, j.Container.ExitCode)
	}
	js, _ := jetstream.New(nc)
	kv, err := js.KeyValue(ctxT(t, 10*time.Second), events.BucketHosts)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.Keys(ctxT(t, 10*time.Second))
	if err != nil || len(keys) != 4 {
		t.Errorf("hosts bucket: %q (%v), want 4 simulated hosts", keys, err)
	}
}
