package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	pb "github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

// The job lifecycle with real containers: retries, early exit, attempt
// timeout, array jobs, N_TO_N and SEQUENTIAL order, dependencies that
// fail or run on any outcome, TerminateJob of a running container and
// CancelJob of a waiting job. Everything is submitted at once to one
// batchd, then checked.
func TestJobLifecycle(t *testing.T) {
	d := startDaemon(t, "--host-vcpus", "8", "--host-memory", "8192", "--stop-grace", "2s")
	c := d.client()
	nc := d.nats(t)
	setupQueue(t, c, "life", 8, "1", "32", "true")
	sh := func(script string) *types.ContainerOverrides {
		return &types.ContainerOverrides{Command: []string{"sh", "-c", script}}
	}
	job := func(name string, ov *types.ContainerOverrides, change ...func(*batch.SubmitJobInput)) string {
		in := &batch.SubmitJobInput{JobName: aws.String(name), JobQueue: aws.String("life-queue"), JobDefinition: aws.String("life-def"), ContainerOverrides: ov}
		for _, f := range change {
			f(in)
		}
		return submit(t, c, in)
	}
	retry := func(n int32, eval ...types.EvaluateOnExit) func(*batch.SubmitJobInput) {
		return func(in *batch.SubmitJobInput) {
			in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(n), EvaluateOnExit: eval}
		}
	}
	array := func(n int32, deps ...types.JobDependency) func(*batch.SubmitJobInput) {
		return func(in *batch.SubmitJobInput) {
			in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(n)}
			in.DependsOn = deps
		}
	}

	// The long ones first: the timeout takes 60 s (AWS's minimum).
	timeout := job("timeout", &types.ContainerOverrides{Command: []string{"sleep", "600"}}, retry(3), func(in *batch.SubmitJobInput) {
		in.Timeout = &types.JobTimeout{AttemptDurationSeconds: aws.Int32(60)}
	})
	victim := job("terminate-me", sh(`echo started; sleep 600`), retry(3))
	retried := job("retried", sh(`echo "attempt $AWS_BATCH_JOB_ATTEMPT"; exit 3`), retry(3))
	early := job("exit-early", sh(`echo "attempt $AWS_BATCH_JOB_ATTEMPT"; exit 7`), retry(3,
		types.EvaluateOnExit{OnExitCode: aws.String("7"), Action: types.RetryActionExit}))
	arr := job("array", sh(`echo "index $AWS_BATCH_JOB_ARRAY_INDEX of $AWS_BATCH_JOB_ARRAY_SIZE id $AWS_BATCH_JOB_ID"`), array(3))
	first := job("first", sh(`sleep 1`), array(3))
	nToN := job("n-to-n", sh(`true`), array(3, types.JobDependency{JobId: aws.String(first), Type: types.ArrayJobDependencyNToN}))
	seq := job("sequential", sh(`sleep 1`), array(3, types.JobDependency{Type: types.ArrayJobDependencySequential}))
	failing := job("failing", sh(`exit 1`))
	dependent := job("dependent", sh(`echo should not run`), func(in *batch.SubmitJobInput) {
		in.DependsOn = []types.JobDependency{{JobId: aws.String(failing)}}
	})
	// condition ANY is an addition the SDK does not know: plain JSON.
	anyOutcome := postSubmit(t, d, fmt.Sprintf(`{"jobName":"cleanup","jobQueue":"life-queue","jobDefinition":"life-def",
		"containerOverrides":{"command":["sh","-c","echo cleaning up"]},"dependsOn":[{"jobId":%q,"condition":"ANY"}]}`, failing))
	// Too big for the environment: RUNNABLE until cancelled.
	stuck := job("stuck", sh(`true`), func(in *batch.SubmitJobInput) {
		in.ContainerOverrides.ResourceRequirements = []types.ResourceRequirement{{Type: types.ResourceTypeVcpu, Value: aws.String("16")}}
	})

	// CancelJob of the RUNNABLE job, TerminateJob of the running one,
	// with batchctl.
	batchctl := buildBatchctl(t)
	waitStatus(t, c, stuck, types.JobStatusRunnable)
	d.batchctl(t, batchctl, "cancel-job", "--job-id", stuck, "--reason", "no room for it")
	waitStatus(t, c, victim, types.JobStatusRunning)
	// CancelJob on a running job changes nothing (AWS's rule).
	if _, err := c.CancelJob(ctxT(t, 10*time.Second), &batch.CancelJobInput{JobId: aws.String(victim), Reason: aws.String("too late")}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if j := describe(t, c, victim)[victim]; j.Status != types.JobStatusRunning || aws.ToBool(j.IsCancelled) {
		t.Fatalf("CancelJob of a RUNNING job: %s cancelled=%v", j.Status, aws.ToBool(j.IsCancelled))
	}
	terminatedAt := time.Now()
	d.batchctl(t, batchctl, "terminate-job", "--job-id", victim, "--reason", "operator stop")

	t.Run("terminate a running container", func(t *testing.T) {
		j := waitFinal(t, c, 2*time.Minute, victim)[victim]
		if j.Status != types.JobStatusFailed || aws.ToString(j.StatusReason) != "operator stop" || !aws.ToBool(j.IsTerminated) || len(j.Attempts) != 1 {
			t.Fatalf("%s %q terminated=%v attempts=%d", j.Status, aws.ToString(j.StatusReason), aws.ToBool(j.IsTerminated), len(j.Attempts))
		}
		// sh ignores SIGTERM as PID 1: SIGKILL after the 2 s grace.
		if a := j.Attempts[0]; a.Container == nil || a.Container.ExitCode == nil || aws.ToString(a.StatusReason) != "operator stop" {
			t.Fatalf("attempt %+v", a)
		}
		if took := time.Since(terminatedAt); took > time.Minute {
			t.Fatalf("termination took %v", took)
		}
		// The container is removed once its exit is reported.
		deadline := time.Now().Add(30 * time.Second)
		for {
			out, err := exec.Command("podman", "ps", "-a", "--filter", "name=batch-"+events.Token(victim), "--format", "{{.Names}}").CombinedOutput()
			if err == nil && strings.TrimSpace(string(out)) == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the container is still there: %q %v", out, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	t.Run("cancel a RUNNABLE job", func(t *testing.T) {
		j := waitFinal(t, c, time.Minute, stuck)[stuck]
		if j.Status != types.JobStatusFailed || aws.ToString(j.StatusReason) != "no room for it" || !aws.ToBool(j.IsCancelled) || len(j.Attempts) != 0 {
			t.Fatalf("%s %q cancelled=%v attempts=%d", j.Status, aws.ToString(j.StatusReason), aws.ToBool(j.IsCancelled), len(j.Attempts))
		}
	})
	t.Run("retries", func(t *testing.T) {
		j := waitFinal(t, c, 3*time.Minute, retried)[retried]
		if j.Status != types.JobStatusFailed || len(j.Attempts) != 3 {
			t.Fatalf("%s with %d attempts", j.Status, len(j.Attempts))
		}
		for i, a := range j.Attempts {
			if a.Container == nil || aws.ToInt32(a.Container.ExitCode) != 3 || aws.ToInt64(a.StartedAt) == 0 || aws.ToInt64(a.StoppedAt) < aws.ToInt64(a.StartedAt) {
				t.Fatalf("attempt %d: %+v", i+1, a)
			}
		}
		if got := jobLog(t, nc, retried); !slices.Equal(got, []string{"attempt 1", "attempt 2", "attempt 3"}) {
			t.Fatalf("log %q", got)
		}
	})
	t.Run("evaluateOnExit EXIT stops early", func(t *testing.T) {
		j := waitFinal(t, c, 2*time.Minute, early)[early]
		if j.Status != types.JobStatusFailed || len(j.Attempts) != 1 || aws.ToInt32(j.Container.ExitCode) != 7 {
			t.Fatalf("%s with %d attempts", j.Status, len(j.Attempts))
		}
	})
	t.Run("array of 3", func(t *testing.T) {
		children := []string{arr + ":0", arr + ":1", arr + ":2"}
		jobs := waitFinal(t, c, 2*time.Minute, append([]string{arr}, children...)...)
		p := jobs[arr]
		if p.Status != types.JobStatusSucceeded || aws.ToInt32(p.ArrayProperties.Size) != 3 || p.ArrayProperties.StatusSummary["SUCCEEDED"] != 3 {
			t.Fatalf("parent %s %+v", p.Status, p.ArrayProperties)
		}
		for i, id := range children {
			j := jobs[id]
			if j.Status != types.JobStatusSucceeded || aws.ToInt32(j.ArrayProperties.Index) != int32(i) {
				t.Fatalf("child %s: %s", id, j.Status)
			}
			want := fmt.Sprintf("index %d of 3 id %s", i, id)
			if got := jobLog(t, nc, id); !slices.Equal(got, []string{want}) {
				t.Fatalf("child %s log %q, want %q", id, got, want)
			}
		}
		l, err := c.ListJobs(ctxT(t, 10*time.Second), &batch.ListJobsInput{ArrayJobId: aws.String(arr), JobStatus: types.JobStatusSucceeded})
		if err != nil || len(l.JobSummaryList) != 3 {
			t.Fatalf("ListJobs arrayJobId: %v %v", l, err)
		}
	})
	t.Run("N_TO_N", func(t *testing.T) {
		var ids []string
		for i := range 3 {
			ids = append(ids, fmt.Sprintf("%s:%d", first, i), fmt.Sprintf("%s:%d", nToN, i))
		}
		jobs := waitFinal(t, c, 2*time.Minute, append(ids, nToN)...)
		for i := range 3 {
			a, b := jobs[fmt.Sprintf("%s:%d", first, i)], jobs[fmt.Sprintf("%s:%d", nToN, i)]
			if a.Status != types.JobStatusSucceeded || b.Status != types.JobStatusSucceeded {
				t.Fatalf("child %d: %s %s", i, a.Status, b.Status)
			}
			if aws.ToInt64(b.StartedAt) < aws.ToInt64(a.StoppedAt) {
				t.Fatalf("n-to-n child %d started at %d, before its dependency stopped at %d", i, aws.ToInt64(b.StartedAt), aws.ToInt64(a.StoppedAt))
			}
		}
	})
	t.Run("SEQUENTIAL", func(t *testing.T) {
		ids := []string{seq + ":0", seq + ":1", seq + ":2"}
		jobs := waitFinal(t, c, 2*time.Minute, append(ids, seq)...)
		for i := 1; i < 3; i++ {
			prev, cur := jobs[ids[i-1]], jobs[ids[i]]
			if cur.Status != types.JobStatusSucceeded || aws.ToInt64(cur.StartedAt) < aws.ToInt64(prev.StoppedAt) {
				t.Fatalf("child %d started at %d, child %d stopped at %d", i, aws.ToInt64(cur.StartedAt), i-1, aws.ToInt64(prev.StoppedAt))
			}
		}
	})
	t.Run("a failed dependency, and one on any outcome", func(t *testing.T) {
		jobs := waitFinal(t, c, 2*time.Minute, failing, dependent, anyOutcome)
		if j := jobs[dependent]; j.Status != types.JobStatusFailed || aws.ToString(j.StatusReason) != "Dependent Job failed: "+failing || len(j.Attempts) != 0 {
			t.Fatalf("dependent: %s %q", j.Status, aws.ToString(j.StatusReason))
		}
		if j := jobs[anyOutcome]; j.Status != types.JobStatusSucceeded {
			t.Fatalf("condition ANY after a failure: %s %q", j.Status, aws.ToString(j.StatusReason))
		}
	})
	t.Run("attempt timeout", func(t *testing.T) {
		j := waitFinal(t, c, 4*time.Minute, timeout)[timeout]
		if j.Status != types.JobStatusFailed || aws.ToString(j.StatusReason) != "Job attempt duration exceeded timeout" || len(j.Attempts) != 1 {
			t.Fatalf("%s %q with %d attempts (a timeout is not retried)", j.Status, aws.ToString(j.StatusReason), len(j.Attempts))
		}
	})
}

// postSubmit submits a job with a plain JSON body (for the fields the AWS
// SDK does not know) and returns its id.
func postSubmit(t *testing.T, d *daemon, body string) string {
	t.Helper()
	resp, err := http.Post("http://"+d.httpAddr+"/v1/submitjob", "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out pb.SubmitJobOutput
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(buf.Bytes(), &out) != nil {
		t.Fatalf("submit: %d %s", resp.StatusCode, buf.String())
	}
	return out.JobID
}

// buildBatchctl builds the batchctl command into a temporary folder.
func buildBatchctl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "batchctl")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join("..", "batchctl")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build batchctl: %v\n%s", err, out)
	}
	return bin
}

// batchctl runs a batchctl command against the daemon.
func (d *daemon) batchctl(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "BATCH_ENDPOINT=http://"+d.httpAddr, "BATCH_NATS_URL=nats://"+d.natsAddr)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("batchctl %v: %v\n%s", args, err, out)
	}
	return string(out)
}
