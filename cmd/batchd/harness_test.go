package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The end-to-end tests run batchd as a real separate process (this test
// binary re-executed), against real Podman, driven by the official AWS SDK.

const sampleImage = "localhost/batch-sample:latest"

func TestMain(m *testing.M) {
	if os.Getenv("BATCHD_TEST_CHILD") == "1" {
		main()
		return
	}
	root, _ := filepath.Abs("../..")
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "setup.sh"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: scripts/setup.sh failed (Podman and the sample image are required):", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// daemon is a batchd process under test.
type daemon struct {
	t        *testing.T
	data     string
	httpAddr string
	natsAddr string
	args     []string
	env      []string // added to this process's environment
	cmd      *exec.Cmd
	log      *os.File
	done     chan struct{}
}

func startDaemon(t *testing.T, extra ...string) *daemon {
	t.Helper()
	return startDaemonEnv(t, nil, extra...)
}

// startDaemonEnv starts batchd with env added to its environment.
func startDaemonEnv(t *testing.T, env []string, extra ...string) *daemon {
	t.Helper()
	d := &daemon{t: t, data: t.TempDir(), httpAddr: freePort(t), natsAddr: freePort(t), args: extra, env: env}
	d.start()
	t.Cleanup(func() { d.stop(syscall.SIGTERM) })
	return d
}

func (d *daemon) start() {
	t := d.t
	t.Helper()
	args := append([]string{"--data", d.data, "--http", d.httpAddr, "--nats", d.natsAddr}, d.args...)
	d.cmd = exec.Command(os.Args[0], args...)
	d.cmd.Env = append(append(os.Environ(), "BATCHD_TEST_CHILD=1"), d.env...)
	f, err := os.OpenFile(filepath.Join(d.data, "batchd.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	d.log = f
	d.cmd.Stdout, d.cmd.Stderr = f, f
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start batchd: %v", err)
	}
	d.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(d.cmd, d.done)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + d.httpAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-d.done:
			t.Fatalf("batchd exited at start:\n%s", d.logs())
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("batchd did not answer in 60s:\n%s", d.logs())
}

func (d *daemon) stop(sig syscall.Signal) {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	_ = d.cmd.Process.Signal(sig)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
	d.log.Close()
	if d.t.Failed() {
		d.t.Logf("batchd log:\n%s", d.logs())
	}
	d.cmd = nil
}

func (d *daemon) logs() string {
	b, _ := os.ReadFile(filepath.Join(d.data, "batchd.log"))
	s := string(b)
	if len(s) > 20000 {
		s = s[len(s)-20000:]
	}
	return s
}

func (d *daemon) client() *batch.Client { return d.clientAs("AKIDEXAMPLE", "secret") }

// clientAs is an AWS SDK Batch client of the daemon signing with the key.
func (d *daemon) clientAs(key, secret string) *batch.Client {
	return batch.New(batch.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + d.httpAddr),
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, "")})
}

// startAuthDaemon starts batchd --auth with the credentials (the JSON of
// an --auth file) and the extra arguments.
func startAuthDaemon(t *testing.T, creds string, extra ...string) *daemon {
	t.Helper()
	credsFile := filepath.Join(t.TempDir(), "credentials.json")
	if err := os.WriteFile(credsFile, []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	return startDaemon(t, append([]string{"--auth", credsFile}, extra...)...)
}

// awsCLI returns a runner of Debian's AWS CLI (scripts/setup.sh installs
// it) for the service's commands against endpoint: signed with the key,
// with a home of its own and no other configuration, JSON output. Its
// answer is the standard output, with the standard error after it when
// the command fails.
func awsCLI(t *testing.T, service, endpoint string) func(key, secret string, args ...string) (string, error) {
	t.Helper()
	const aws = "/usr/bin/aws"
	if out, err := exec.Command(aws, "--version").CombinedOutput(); err != nil {
		t.Fatalf("aws --version: %v %s (scripts/setup.sh installs Debian's awscli)", err, out)
	}
	home := t.TempDir()
	return func(key, secret string, args ...string) (string, error) {
		cmd := exec.Command(aws, append(append([]string{service}, args...), "--endpoint-url", endpoint, "--output", "json")...)
		cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin", "AWS_ACCESS_KEY_ID=" + key, "AWS_SECRET_ACCESS_KEY=" + secret,
			"AWS_DEFAULT_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER="}
		out, err := cmd.Output()
		if ee, ok := err.(*exec.ExitError); ok {
			out = append(out, ee.Stderr...)
		}
		return string(out), err
	}
}

func (d *daemon) nats(t *testing.T) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect("nats://" + d.natsAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// setupQueue creates an environment of maxVCPUs, a queue on it and a job
// definition with the given vCPUs, memory and command.
func setupQueue(t *testing.T, c *batch.Client, name string, maxVCPUs int32, vcpus, memory string, command ...string) {
	t.Helper()
	ctx := ctxT(t, 30*time.Second)
	if _, err := c.CreateComputeEnvironment(ctx, &batch.CreateComputeEnvironmentInput{
		ComputeEnvironmentName: aws.String(name + "-ce"), Type: types.CETypeManaged,
		ComputeResources: &types.ComputeResource{Type: types.CRTypeEc2, MaxvCpus: aws.Int32(maxVCPUs),
			Subnets: []string{"subnet-1"}, InstanceTypes: []string{"optimal"}, SecurityGroupIds: []string{"sg-1"},
			AllocationStrategy: types.CRAllocationStrategyBestFitProgressive}}); err != nil {
		t.Fatalf("create compute environment: %v", err)
	}
	if _, err := c.CreateJobQueue(ctx, &batch.CreateJobQueueInput{JobQueueName: aws.String(name + "-queue"),
		Priority: aws.Int32(1), ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{
			{Order: aws.Int32(1), ComputeEnvironment: aws.String(name + "-ce")}}}); err != nil {
		t.Fatalf("create job queue: %v", err)
	}
	if _, err := c.RegisterJobDefinition(ctx, &batch.RegisterJobDefinitionInput{JobDefinitionName: aws.String(name + "-def"),
		Type: types.JobDefinitionTypeContainer, ContainerProperties: &types.ContainerProperties{
			Image: aws.String(sampleImage), Command: command,
			ResourceRequirements: []types.ResourceRequirement{
				{Type: types.ResourceTypeVcpu, Value: aws.String(vcpus)},
				{Type: types.ResourceTypeMemory, Value: aws.String(memory)}}}}); err != nil {
		t.Fatalf("register job definition: %v", err)
	}
}

func submit(t *testing.T, c *batch.Client, in *batch.SubmitJobInput) string {
	t.Helper()
	out, err := c.SubmitJob(ctxT(t, 30*time.Second), in)
	if err != nil {
		t.Fatalf("submit job: %v", err)
	}
	return aws.ToString(out.JobId)
}

func describe(t *testing.T, c *batch.Client, ids ...string) map[string]types.JobDetail {
	t.Helper()
	out := map[string]types.JobDetail{}
	for len(ids) > 0 {
		n := min(100, len(ids))
		res, err := c.DescribeJobs(ctxT(t, 30*time.Second), &batch.DescribeJobsInput{Jobs: ids[:n]})
		if err != nil {
			t.Fatalf("describe jobs: %v", err)
		}
		for _, j := range res.Jobs {
			out[aws.ToString(j.JobId)] = j
		}
		ids = ids[n:]
	}
	return out
}

// waitFinal polls until every job is SUCCEEDED or FAILED.
func waitFinal(t *testing.T, c *batch.Client, timeout time.Duration, ids ...string) map[string]types.JobDetail {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		jobs := describe(t, c, ids...)
		done := 0
		for _, j := range jobs {
			if j.Status == types.JobStatusSucceeded || j.Status == types.JobStatusFailed {
				done++
			}
		}
		if done == len(ids) {
			return jobs
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for id, j := range jobs {
				fmt.Fprintf(&b, "%s %s %s\n", id, j.Status, aws.ToString(j.StatusReason))
			}
			t.Fatalf("jobs not final after %v:\n%s", timeout, b.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// jobLog is every line a job printed, in the order stored.
func jobLog(t *testing.T, nc *nats.Conn, jobID string) []string {
	t.Helper()
	var lines []string
	for _, m := range storedLog(t, nc, jobID) {
		lines = append(lines, string(m.Data()))
	}
	return lines
}

// storedLog is every log message of a job, in the order stored: as many
// as the logs stream says it holds on the job's subjects (a finished
// job's lines are all stored before its exit is reported).
func storedLog(t *testing.T, nc *nats.Conn, jobID string) []jetstream.Msg {
	t.Helper()
	js, _ := jetstream.New(nc)
	ctx := ctxT(t, 30*time.Second)
	st, err := js.Stream(ctx, events.StreamLogs)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(events.LogFilter(jobID)))
	if err != nil {
		t.Fatal(err)
	}
	var want uint64
	for _, n := range info.State.Subjects {
		want += n
	}
	var lines []jetstream.Msg
	if want == 0 {
		return lines
	}
	cons, err := js.OrderedConsumer(ctx, events.StreamLogs, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.LogFilter(jobID)}})
	if err != nil {
		t.Fatal(err)
	}
	for uint64(len(lines)) < want {
		msgs, err := cons.Fetch(1000, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range msgs.Messages() {
			lines = append(lines, m)
		}
		if ctx.Err() != nil {
			t.Fatalf("read %d of the %d log lines of %s", len(lines), want, jobID)
		}
	}
	return lines
}

// statusTracker follows the state change events of jobs and records the
// highest number of jobs that were STARTING or RUNNING at once.
type statusTracker struct {
	mu      sync.Mutex
	status  map[string]string
	maxBusy int
	seen    map[string][]string
}

func trackStatuses(t *testing.T, nc *nats.Conn) *statusTracker {
	st := &statusTracker{status: map[string]string{}, seen: map[string][]string{}}
	sub, err := nc.Subscribe(events.SubjectJobEventsAll, func(m *nats.Msg) {
		var ev events.JobStateChange
		if json.Unmarshal(m.Data, &ev) != nil {
			return
		}
		st.mu.Lock()
		defer st.mu.Unlock()
		id, s := ev.Detail.JobID, string(ev.Detail.Status)
		st.status[id] = s
		st.seen[id] = append(st.seen[id], s)
		busy := 0
		for _, v := range st.status {
			if v == "STARTING" || v == "RUNNING" {
				busy++
			}
		}
		st.maxBusy = max(st.maxBusy, busy)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return st
}

func (st *statusTracker) max() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.maxBusy
}

func (st *statusTracker) history(id string) []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return append([]string(nil), st.seen[id]...)
}
