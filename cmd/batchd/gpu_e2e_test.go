package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/nats-io/nats.go"
)

// writeFakeCDI writes a CDI spec of two nvidia.com/gpu devices, "0" and
// "1", whose only edit is FAKE_GPU=<name> in the environment, to /etc/cdi
// (where Podman looks) under a unique name, removed when the test ends.
func writeFakeCDI(t *testing.T) {
	t.Helper()
	if err := os.MkdirAll("/etc/cdi", 0o755); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	path := filepath.Join("/etc/cdi", "batchd-test-"+hex.EncodeToString(b)+".yaml")
	spec := `cdiVersion: "0.5.0"
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits:
    env: ["FAKE_GPU=0"]
- name: "1"
  containerEdits:
    env: ["FAKE_GPU=1"]
`
	if err := os.WriteFile(path, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(path) })
}

// registerGPUDef registers a job definition needing gpus GPUs whose job
// prints the fake GPU it sees and NVIDIA_VISIBLE_DEVICES, then sleeps.
func registerGPUDef(t *testing.T, c *batch.Client, name, gpus string, sleep int) {
	t.Helper()
	if _, err := c.RegisterJobDefinition(ctxT(t, 30*time.Second), &batch.RegisterJobDefinitionInput{JobDefinitionName: aws.String(name),
		Type: types.JobDefinitionTypeContainer, ContainerProperties: &types.ContainerProperties{Image: aws.String(sampleImage),
			Command: []string{"sh", "-c", fmt.Sprintf(`echo "gpu=$FAKE_GPU visible=$NVIDIA_VISIBLE_DEVICES"; sleep %d`, sleep)},
			ResourceRequirements: []types.ResourceRequirement{
				{Type: types.ResourceTypeVcpu, Value: aws.String("1")}, {Type: types.ResourceTypeMemory, Value: aws.String("32")},
				{Type: types.ResourceTypeGpu, Value: aws.String(gpus)}}}}); err != nil {
		t.Fatal(err)
	}
}

// gpuRun is the fake GPU a finished job saw, and when it ran.
type gpuRun struct {
	id, gpu        string
	start, stopped int64
}

// gpuRuns checks that every job succeeded, once, seeing one fake GPU that
// is also its NVIDIA_VISIBLE_DEVICES, and that no two jobs had the same
// GPU at the same time.
func gpuRuns(t *testing.T, nc *nats.Conn, jobs map[string]types.JobDetail, ids []string) []gpuRun {
	t.Helper()
	line := regexp.MustCompile(`^gpu=([01]) visible=([01])$`)
	var runs []gpuRun
	for _, id := range ids {
		j := jobs[id]
		if j.Status != types.JobStatusSucceeded || len(j.Attempts) != 1 {
			t.Fatalf("job %s: %s with %d attempts (%s)", id, j.Status, len(j.Attempts), aws.ToString(j.StatusReason))
		}
		out := jobLog(t, nc, id)
		m := line.FindStringSubmatch(strings.Join(out, "\n"))
		if len(out) != 1 || m == nil || m[1] != m[2] {
			t.Fatalf("job %s printed %q, want once one fake GPU that is also NVIDIA_VISIBLE_DEVICES", id, out)
		}
		runs = append(runs, gpuRun{id, m[1], aws.ToInt64(j.StartedAt), aws.ToInt64(j.StoppedAt)})
	}
	for i, a := range runs {
		for _, b := range runs[i+1:] {
			if a.gpu == b.gpu && a.start < b.stopped && b.start < a.stopped {
				t.Fatalf("jobs %s [%d, %d] and %s [%d, %d] both had GPU %s at the same time",
					a.id, a.start, a.stopped, b.id, b.start, b.stopped, a.gpu)
			}
		}
	}
	return runs
}

// GPU isolation on real Podman: the launcher finds two GPUs in the CDI
// specs, four 1-GPU jobs run two at a time, each with its own device (seen
// from inside the container through the spec's edit and
// NVIDIA_VISIBLE_DEVICES), and a job wanting 3 GPUs says why it waits.
func TestGPUIsolation(t *testing.T) {
	writeFakeCDI(t)
	d := startDaemon(t, "--host-vcpus", "8", "--host-memory", "4096")
	c := d.client()
	nc := d.nats(t)
	ctx := ctxT(t, time.Minute)
	setupQueue(t, c, "gpu", 8, "1", "32", "true")
	registerGPUDef(t, c, "gpu1", "1", 2)
	registerGPUDef(t, c, "gpu3", "3", 2)
	big := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("big"), JobQueue: aws.String("gpu-queue"), JobDefinition: aws.String("gpu3")})
	var ids []string
	for i := range 4 {
		ids = append(ids, submit(t, c, &batch.SubmitJobInput{JobName: aws.String(fmt.Sprintf("g%d", i)),
			JobQueue: aws.String("gpu-queue"), JobDefinition: aws.String("gpu1")}))
	}
	gpuRuns(t, nc, waitFinal(t, c, 3*time.Minute, ids...), ids)
	j := describe(t, c, big)[big]
	want := "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - no host of the compute environments of job queue gpu-queue has 1 vCPUs, 32 MiB of memory and 3 GPUs."
	if j.Status != types.JobStatusRunnable || aws.ToString(j.StatusReason) != want {
		t.Fatalf("the 3-GPU job is %s with %q, want RUNNABLE with %q", j.Status, aws.ToString(j.StatusReason), want)
	}
	if _, err := c.CancelJob(ctx, &batch.CancelJobInput{JobId: aws.String(big), Reason: aws.String("test over")}); err != nil {
		t.Fatal(err)
	}
}

// A restarted launcher knows which GPU the container it re-adopts holds
// (its label): a job placed after the restart gets the other one.
func TestGPUHeldAcrossRestart(t *testing.T) {
	writeFakeCDI(t)
	d := startDaemon(t, "--host-vcpus", "8", "--host-memory", "4096")
	c := d.client()
	setupQueue(t, c, "gpur", 8, "1", "32", "true")
	registerGPUDef(t, c, "gpur1", "1", 6)
	sub := func(name string) string {
		return submit(t, c, &batch.SubmitJobInput{JobName: aws.String(name), JobQueue: aws.String("gpur-queue"), JobDefinition: aws.String("gpur1")})
	}
	first := sub("before")
	waitStatus(t, c, first, types.JobStatusRunning)
	d.stop(syscall.SIGKILL)
	d.start()
	c = d.client()
	second := sub("after")
	ids := []string{first, second}
	runs := gpuRuns(t, d.nats(t), waitFinal(t, c, 2*time.Minute, ids...), ids)
	if a, b := runs[0], runs[1]; !(a.start < b.stopped && b.start < a.stopped) {
		t.Logf("the jobs did not overlap (%+v, %+v): the restart check was not exercised", a, b)
	}
}
