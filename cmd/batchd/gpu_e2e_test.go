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

// gpuContainer is a container of a task that needs gpus GPUs and prints
// the fake GPU it sees and NVIDIA_VISIBLE_DEVICES, then sleeps.
func gpuContainer(name, gpus string, sleep int) types.TaskContainerProperties {
	r := append(res("1", "32"), types.ResourceRequirement{Type: types.ResourceTypeGpu, Value: aws.String(gpus)})
	return types.TaskContainerProperties{Name: aws.String(name), Image: aws.String(sampleImage), ResourceRequirements: r,
		Command: []string{"sh", "-c", fmt.Sprintf(`echo "gpu=$FAKE_GPU visible=$NVIDIA_VISIBLE_DEVICES"; sleep %d`, sleep)}}
}

// podGPUs reads the stored log of a finished pod job, which must be one
// line of each of the containers a and b, and returns the fake GPU each
// saw (checked to be its NVIDIA_VISIBLE_DEVICES too).
func podGPUs(t *testing.T, nc *nats.Conn, id string) (a, b string) {
	t.Helper()
	line := regexp.MustCompile(`^(a|b) \| gpu=([01]) visible=([01])$`)
	lines := containerLog(t, nc, id)
	seen := map[string]string{}
	for _, l := range lines {
		if m := line.FindStringSubmatch(l); m != nil && m[2] == m[3] && seen[m[1]] == "" {
			seen[m[1]] = m[2]
		}
	}
	if len(lines) != 2 || len(seen) != 2 {
		t.Fatalf("job %s printed %q, want one line of a and one of b, each one fake GPU that is also its NVIDIA_VISIBLE_DEVICES", id, lines)
	}
	return seen["a"], seen["b"]
}

// GPUs for the containers of a multi-container job, on real Podman with
// two fake CDI GPUs: a pod of two containers asking for one GPU each gets
// both, one each; a second such job waits until the first has ended; a
// kill -9 of batchd while the first runs keeps its devices its own (the
// pod is re-adopted); a task asking for more GPUs than the host has says
// so in its statusReason.
func TestMultiContainerGPUs(t *testing.T) {
	writeFakeCDI(t)
	d := startDaemon(t, "--host-vcpus", "8", "--host-memory", "4096")
	c := d.client()
	setupQueue(t, c, "gpupod", 8, "1", "32", "true")
	registerTask(t, c, "gpupod-two", types.EcsTaskProperties{Containers: []types.TaskContainerProperties{
		gpuContainer("a", "1", 8), gpuContainer("b", "1", 8)}})
	registerTask(t, c, "gpupod-three", types.EcsTaskProperties{Containers: []types.TaskContainerProperties{
		gpuContainer("a", "2", 1), gpuContainer("b", "1", 1)}})
	queue := aws.String("gpupod-queue")
	first := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("first"), JobQueue: queue, JobDefinition: aws.String("gpupod-two")})
	big := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("big"), JobQueue: queue, JobDefinition: aws.String("gpupod-three")})
	waitStatus(t, c, first, types.JobStatusRunning)
	second := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("second"), JobQueue: queue, JobDefinition: aws.String("gpupod-two")})
	d.stop(syscall.SIGKILL)
	d.start()
	c = d.client()
	ids := []string{first, second}
	jobs := waitFinal(t, c, 3*time.Minute, ids...)
	nc := d.nats(t)
	for _, id := range ids {
		j := jobs[id]
		if j.Status != types.JobStatusSucceeded || len(j.Attempts) != 1 {
			t.Fatalf("job %s: %s with %d attempts (%s)", id, j.Status, len(j.Attempts), aws.ToString(j.StatusReason))
		}
		if a, b := podGPUs(t, nc, id); a == b {
			t.Fatalf("job %s: containers a and b both saw GPU %s", id, a)
		}
	}
	f, s := jobs[first], jobs[second]
	if aws.ToInt64(s.StartedAt) < aws.ToInt64(f.StoppedAt) {
		t.Fatalf("the second job ran [%d, %d] while the first [%d, %d] held both GPUs",
			aws.ToInt64(s.StartedAt), aws.ToInt64(s.StoppedAt), aws.ToInt64(f.StartedAt), aws.ToInt64(f.StoppedAt))
	}
	t.Logf("SubmitJob to RUNNING of a 2-container pod with a GPU each: %d ms", aws.ToInt64(f.StartedAt)-aws.ToInt64(f.CreatedAt))
	j := describe(t, c, big)[big]
	want := "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - no host of the compute environments of job queue gpupod-queue has 2 vCPUs, 64 MiB of memory and 3 GPUs."
	if j.Status != types.JobStatusRunnable || aws.ToString(j.StatusReason) != want {
		t.Fatalf("the 3-GPU task is %s with %q, want RUNNABLE with %q", j.Status, aws.ToString(j.StatusReason), want)
	}
	if _, err := c.CancelJob(ctxT(t, 30*time.Second), &batch.CancelJobInput{JobId: aws.String(big), Reason: aws.String("test over")}); err != nil {
		t.Fatal(err)
	}
}
