package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
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
	for name, gpus := range map[string]string{"gpu1": "1", "gpu3": "3"} {
		if _, err := c.RegisterJobDefinition(ctx, &batch.RegisterJobDefinitionInput{JobDefinitionName: aws.String(name),
			Type: types.JobDefinitionTypeContainer, ContainerProperties: &types.ContainerProperties{Image: aws.String(sampleImage),
				Command: []string{"sh", "-c", `echo "gpu=$FAKE_GPU visible=$NVIDIA_VISIBLE_DEVICES"; sleep 2`},
				ResourceRequirements: []types.ResourceRequirement{
					{Type: types.ResourceTypeVcpu, Value: aws.String("1")}, {Type: types.ResourceTypeMemory, Value: aws.String("32")},
					{Type: types.ResourceTypeGpu, Value: aws.String(gpus)}}}}); err != nil {
			t.Fatal(err)
		}
	}
	big := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("big"), JobQueue: aws.String("gpu-queue"), JobDefinition: aws.String("gpu3")})
	var ids []string
	for i := range 4 {
		ids = append(ids, submit(t, c, &batch.SubmitJobInput{JobName: aws.String(fmt.Sprintf("g%d", i)),
			JobQueue: aws.String("gpu-queue"), JobDefinition: aws.String("gpu1")}))
	}
	jobs := waitFinal(t, c, 3*time.Minute, ids...)
	line := regexp.MustCompile(`^gpu=([01]) visible=([01])$`)
	type run struct {
		id, gpu        string
		start, stopped int64
	}
	var runs []run
	for _, id := range ids {
		j := jobs[id]
		if j.Status != types.JobStatusSucceeded {
			t.Fatalf("job %s: %s (%s)", id, j.Status, aws.ToString(j.StatusReason))
		}
		out := jobLog(t, nc, id)
		m := line.FindStringSubmatch(strings.Join(out, "\n"))
		if m == nil || m[1] != m[2] {
			t.Fatalf("job %s printed %q, want one fake GPU that is also NVIDIA_VISIBLE_DEVICES", id, out)
		}
		runs = append(runs, run{id, m[1], aws.ToInt64(j.StartedAt), aws.ToInt64(j.StoppedAt)})
	}
	for i, a := range runs {
		for _, b := range runs[i+1:] {
			if a.gpu == b.gpu && a.start < b.stopped && b.start < a.stopped {
				t.Fatalf("jobs %s [%d, %d] and %s [%d, %d] both had GPU %s at the same time",
					a.id, a.start, a.stopped, b.id, b.start, b.stopped, a.gpu)
			}
		}
	}
	j := describe(t, c, big)[big]
	want := "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - no host of the compute environments of job queue gpu-queue has 1 vCPUs, 32 MiB of memory and 3 GPUs."
	if j.Status != types.JobStatusRunnable || aws.ToString(j.StatusReason) != want {
		t.Fatalf("the 3-GPU job is %s with %q, want RUNNABLE with %q", j.Status, aws.ToString(j.StatusReason), want)
	}
	if _, err := c.CancelJob(ctx, &batch.CancelJobInput{JobId: aws.String(big), Reason: aws.String("test over")}); err != nil {
		t.Fatal(err)
	}
}
