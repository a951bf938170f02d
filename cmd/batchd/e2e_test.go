package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	pb "github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

// The capacity walkthrough: 10 jobs of 2 vCPUs on a 4-vCPU environment run
// two at a time, in submit order, and all succeed with their output kept.
func TestCapacityWalkthrough(t *testing.T) {
	d := startDaemon(t, "--host-vcpus", "8", "--host-memory", "4096")
	c := d.client()
	nc := d.nats(t)
	tr := trackStatuses(t, nc)
	setupQueue(t, c, "walk", 4, "2", "64", "sh", "-c",
		`echo "hello from $AWS_BATCH_JOB_ID attempt $AWS_BATCH_JOB_ATTEMPT queue $AWS_BATCH_JQ_NAME ce $AWS_BATCH_CE_NAME"; sleep 1`)
	var ids []string
	for i := range 10 {
		ids = append(ids, submit(t, c, &batch.SubmitJobInput{JobName: aws.String(fmt.Sprintf("walk-%d", i)),
			JobQueue: aws.String("walk-queue"), JobDefinition: aws.String("walk-def")}))
	}
	jobs := waitFinal(t, c, 3*time.Minute, ids...)
	for _, id := range ids {
		j := jobs[id]
		if j.Status != types.JobStatusSucceeded {
			t.Fatalf("job %s: %s (%s)", id, j.Status, aws.ToString(j.StatusReason))
		}
		if len(j.Attempts) != 1 || j.Container == nil || aws.ToInt32(j.Container.ExitCode) != 0 {
			t.Fatalf("job %s: want one attempt with exit code 0, got %+v", id, j.Attempts)
		}
		if aws.ToInt64(j.StartedAt) == 0 || aws.ToInt64(j.StoppedAt) < aws.ToInt64(j.StartedAt) || aws.ToInt64(j.CreatedAt) == 0 {
			t.Fatalf("job %s: bad times created=%d started=%d stopped=%d", id, aws.ToInt64(j.CreatedAt), aws.ToInt64(j.StartedAt), aws.ToInt64(j.StoppedAt))
		}
		want := fmt.Sprintf("hello from %s attempt 1 queue walk-queue ce walk-ce", id)
		if got := jobLog(t, nc, id); !slices.Contains(got, want) {
			t.Fatalf("job %s log: want %q, got %q", id, want, got)
		}
		h := tr.history(id)
		if !slices.Equal(h, []string{"SUBMITTED", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"}) {
			t.Fatalf("job %s went through %v", id, h)
		}
	}
	if m := tr.max(); m != 2 {
		t.Fatalf("at most 2 jobs of 2 vCPUs fit in 4 vCPUs; %d ran at once", m)
	}
	// Queue order: each job started no earlier than the one submitted before it.
	for i := 1; i < len(ids); i++ {
		if aws.ToInt64(jobs[ids[i]].StartedAt) < aws.ToInt64(jobs[ids[i-1]].StartedAt)-1500 {
			t.Fatalf("job %d started well before job %d", i, i-1)
		}
	}
	// ListJobs sees them all as SUCCEEDED, paged.
	var listed []string
	var token *string
	for {
		out, err := c.ListJobs(ctxT(t, 10*time.Second), &batch.ListJobsInput{JobQueue: aws.String("walk-queue"),
			JobStatus: types.JobStatusSucceeded, MaxResults: aws.Int32(4), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range out.JobSummaryList {
			listed = append(listed, aws.ToString(s.JobId))
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	if len(listed) != 10 {
		t.Fatalf("ListJobs SUCCEEDED paged by 4: got %d jobs", len(listed))
	}
}

// Failures carry clear reasons: a missing image, a non-zero exit, and a job
// that can never fit.
func TestFailureReasons(t *testing.T) {
	d := startDaemon(t, "--host-vcpus", "4", "--host-memory", "4096")
	c := d.client()
	setupQueue(t, c, "fail", 4, "1", "32", "sh", "-c", "exit 3")
	ctx := ctxT(t, time.Minute)
	if _, err := c.RegisterJobDefinition(ctx, &batch.RegisterJobDefinitionInput{JobDefinitionName: aws.String("noimage"),
		Type: types.JobDefinitionTypeContainer, ContainerProperties: &types.ContainerProperties{
			Image: aws.String("localhost/does-not-exist:1"), ResourceRequirements: []types.ResourceRequirement{
				{Type: types.ResourceTypeVcpu, Value: aws.String("1")}, {Type: types.ResourceTypeMemory, Value: aws.String("32")}}}}); err != nil {
		t.Fatal(err)
	}
	exit3 := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("exit3"), JobQueue: aws.String("fail-queue"), JobDefinition: aws.String("fail-def")})
	noimg := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("noimage"), JobQueue: aws.String("fail-queue"), JobDefinition: aws.String("noimage")})
	huge := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("huge"), JobQueue: aws.String("fail-queue"), JobDefinition: aws.String("fail-def"),
		ContainerOverrides: &types.ContainerOverrides{ResourceRequirements: []types.ResourceRequirement{{Type: types.ResourceTypeVcpu, Value: aws.String("16")}}}})
	jobs := waitFinal(t, c, 2*time.Minute, exit3, noimg)
	if j := jobs[exit3]; j.Status != types.JobStatusFailed || aws.ToInt32(j.Container.ExitCode) != 3 ||
		aws.ToString(j.StatusReason) != "Essential container in task exited" || len(j.Attempts) != 1 {
		t.Fatalf("exit 3: got %s exit=%v reason=%q attempts=%d", j.Status, j.Container.ExitCode, aws.ToString(j.StatusReason), len(j.Attempts))
	}
	if j := jobs[noimg]; j.Status != types.JobStatusFailed || !strings.Contains(aws.ToString(j.StatusReason), "CannotPullContainerError") ||
		!strings.Contains(aws.ToString(j.StatusReason), "does-not-exist") {
		t.Fatalf("missing image: got %s reason=%q", j.Status, aws.ToString(j.StatusReason))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		j := describe(t, c, huge)[huge]
		if j.Status == types.JobStatusRunnable && strings.HasPrefix(aws.ToString(j.StatusReason), "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a 16-vCPU job on a 4-vCPU environment: got %s %q", j.Status, aws.ToString(j.StatusReason))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Parameters, overrides, environment and resource limits reach the
// container.
func TestContainerSettings(t *testing.T) {
	d := startDaemon(t, "--host-vcpus", "4", "--host-memory", "4096")
	c := d.client()
	nc := d.nats(t)
	ctx := ctxT(t, time.Minute)
	setupQueue(t, c, "cfg", 4, "1", "32", "true")
	if _, err := c.RegisterJobDefinition(ctx, &batch.RegisterJobDefinitionInput{JobDefinitionName: aws.String("params"),
		Type: types.JobDefinitionTypeContainer, Parameters: map[string]string{"greeting": "hi", "who": "world"},
		ContainerProperties: &types.ContainerProperties{Image: aws.String(sampleImage),
			Command:     []string{"sh", "-c", "echo Ref::greeting Ref::who $COLOR; cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.shares"},
			Environment: []types.KeyValuePair{{Name: aws.String("COLOR"), Value: aws.String("red")}},
			ResourceRequirements: []types.ResourceRequirement{
				{Type: types.ResourceTypeVcpu, Value: aws.String("1")}, {Type: types.ResourceTypeMemory, Value: aws.String("48")}}}}); err != nil {
		t.Fatal(err)
	}
	id := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("params"), JobQueue: aws.String("cfg-queue"), JobDefinition: aws.String("params"),
		Parameters: map[string]string{"who": "batch"},
		ContainerOverrides: &types.ContainerOverrides{
			Environment:          []types.KeyValuePair{{Name: aws.String("COLOR"), Value: aws.String("blue")}},
			ResourceRequirements: []types.ResourceRequirement{{Type: types.ResourceTypeMemory, Value: aws.String("64")}}}})
	j := waitFinal(t, c, time.Minute, id)[id]
	if j.Status != types.JobStatusSucceeded {
		t.Fatalf("got %s %q", j.Status, aws.ToString(j.StatusReason))
	}
	got := jobLog(t, nc, id)
	want := []string{"hi batch blue", fmt.Sprint(64 << 20), "1024"} // 1 vCPU: 1024 CPU shares
	if !slices.Equal(got, want) {
		t.Fatalf("container output: want %q, got %q", want, got)
	}
}

// Raising maxvCpus lets more jobs run at once, without a restart.
func TestRaiseMaxvCpus(t *testing.T) {
	d := startDaemon(t, "--host-vcpus", "4", "--host-memory", "4096")
	c := d.client()
	nc := d.nats(t)
	tr := trackStatuses(t, nc)
	setupQueue(t, c, "grow", 1, "1", "32", "sleep", "3")
	var ids []string
	for i := range 3 {
		ids = append(ids, submit(t, c, &batch.SubmitJobInput{JobName: aws.String(fmt.Sprintf("g%d", i)),
			JobQueue: aws.String("grow-queue"), JobDefinition: aws.String("grow-def")}))
	}
	waitStatus(t, c, ids[0], types.JobStatusRunning)
	if _, err := c.UpdateComputeEnvironment(ctxT(t, 10*time.Second), &batch.UpdateComputeEnvironmentInput{
		ComputeEnvironment: aws.String("grow-ce"), ComputeResources: &types.ComputeResourceUpdate{MaxvCpus: aws.Int32(3)}}); err != nil {
		t.Fatal(err)
	}
	waitFinal(t, c, time.Minute, ids...)
	if m := tr.max(); m != 3 {
		t.Fatalf("after raising maxvCpus to 3, want 3 jobs at once, got %d", m)
	}
}

func waitStatus(t *testing.T, c *batch.Client, id string, s types.JobStatus) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for describe(t, c, id)[id].Status != s {
		if time.Now().After(deadline) {
			t.Fatalf("job %s never reached %s", id, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill -9 of batchd while jobs run loses nothing: queued jobs run, running
// containers are re-adopted (not started again), results are kept.
func TestCrashAndRestart(t *testing.T) {
	d := startDaemon(t, "--host-vcpus", "4", "--host-memory", "4096")
	c := d.client()
	setupQueue(t, c, "crash", 2, "1", "32", "sh", "-c", `echo "start $AWS_BATCH_JOB_ID"; sleep 4; echo "end $AWS_BATCH_JOB_ID"`)
	var ids []string
	for i := range 4 {
		ids = append(ids, submit(t, c, &batch.SubmitJobInput{JobName: aws.String(fmt.Sprintf("c%d", i)),
			JobQueue: aws.String("crash-queue"), JobDefinition: aws.String("crash-def")}))
	}
	waitStatus(t, c, ids[0], types.JobStatusRunning)
	waitStatus(t, c, ids[1], types.JobStatusRunning)
	d.stop(syscall.SIGKILL)
	time.Sleep(time.Second)
	d.start()
	c = d.client()
	jobs := waitFinal(t, c, 2*time.Minute, ids...)
	nc := d.nats(t)
	for _, id := range ids {
		j := jobs[id]
		if j.Status != types.JobStatusSucceeded || len(j.Attempts) != 1 {
			t.Fatalf("job %s: %s with %d attempts (%s)", id, j.Status, len(j.Attempts), aws.ToString(j.StatusReason))
		}
		lines := jobLog(t, nc, id)
		starts := 0
		for _, l := range lines {
			if l == "start "+id {
				starts++
			}
		}
		if starts != 1 || !slices.Contains(lines, "end "+id) {
			t.Fatalf("job %s: want its container to start once and finish, log %q", id, lines)
		}
	}
}

// The NATS API takes the same JSON bodies as the HTTP API.
func TestNATSAPI(t *testing.T) {
	d := startDaemon(t, "--host-vcpus", "4", "--host-memory", "4096")
	c := d.client()
	nc := d.nats(t)
	setupQueue(t, c, "natsapi", 4, "1", "32", "sh", "-c", "echo over nats")
	req, _ := json.Marshal(pb.SubmitJobInput{JobName: "n1", JobQueue: "natsapi-queue", JobDefinition: "natsapi-def"})
	msg, err := nc.Request(events.APISubject("SubmitJob"), req, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var out pb.SubmitJobOutput
	if err := json.Unmarshal(msg.Data, &out); err != nil || out.JobID == "" {
		t.Fatalf("SubmitJob over NATS: %s (%v)", msg.Data, err)
	}
	j := waitFinal(t, c, time.Minute, out.JobID)[out.JobID]
	if j.Status != types.JobStatusSucceeded {
		t.Fatalf("got %s", j.Status)
	}
	bad, _ := json.Marshal(pb.SubmitJobInput{JobName: "n2", JobQueue: "no-such-queue", JobDefinition: "natsapi-def"})
	msg, err = nc.Request(events.APISubject("SubmitJob"), bad, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var eb pb.ErrorBody
	if err := json.Unmarshal(msg.Data, &eb); err != nil || eb.Type != "ClientException" || !strings.Contains(eb.Message, "no-such-queue") {
		t.Fatalf("unknown queue over NATS: %s", msg.Data)
	}
	// And the HTTP API says the same with the typed SDK error.
	_, err = c.SubmitJob(ctxT(t, 10*time.Second), &batch.SubmitJobInput{JobName: aws.String("n3"), JobQueue: aws.String("no-such-queue"), JobDefinition: aws.String("natsapi-def")})
	var ce *types.ClientException
	if !errors.As(err, &ce) {
		t.Fatalf("want ClientException, got %v", err)
	}
}
