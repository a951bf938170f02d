package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/batchd/batchd/pkg/natstest"
	"github.com/batchd/batchd/services/api"
	"github.com/batchd/batchd/services/launcher"
	"github.com/batchd/batchd/services/monitor"
	"github.com/batchd/batchd/services/scheduler"
)

// testClock is a clock the test moves forward.
type testClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// TestHostLost runs every service in-process on embedded JetStream with two
// simulated hosts, the scheduler and the launchers on a clock the test
// moves. Host a dies with two jobs RUNNING on it; one of them is
// terminated while the host is away. Once a has been silent past the
// timeout, the first job's attempt fails with AWS's host-terminated reason
// and its retry runs on host b; the terminated one ends FAILED with the
// termination's reason.
func TestHostLost(t *testing.T) {
	ns := natstest.Run(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	clk := &testClock{}
	srv, err := api.Start(ctx, api.Config{DefaultEnvironment: &api.DefaultEnvironment{Name: "default", Queue: "default", MaxvCpus: 8}},
		api.Deps{NATS: ns.Conn(t), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Go(func() { _ = monitor.Run(ctx, monitor.DefaultConfig(), monitor.Deps{NATS: ns.Conn(t), Logger: log}) })
	scfg := scheduler.DefaultConfig()
	scfg.HostLostAfter = 30 * time.Second
	wg.Go(func() { _ = scheduler.Run(ctx, scfg, scheduler.Deps{NATS: ns.Conn(t), Logger: log, Clock: clk.Now}) })
	startHost := func(ctx context.Context, id string) chan error {
		done := make(chan error, 1)
		go func() {
			done <- launcher.Run(ctx, launcher.Config{HostID: id, VCPUs: 2, MemoryMiB: 1024, Runtime: launcher.RuntimeSim},
				launcher.Deps{NATS: ns.Conn(t), Logger: log, Clock: clk.Now})
		}()
		return done
	}
	actx, killA := context.WithCancel(ctx)
	aDone := startHost(actx, "host-a")
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	c := batch.New(batch.Options{Region: "us-east-1", BaseEndpoint: aws.String(hs.URL),
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})

	rctx := ctxT(t, 30*time.Second)
	if _, err := c.RegisterJobDefinition(rctx, &batch.RegisterJobDefinitionInput{JobDefinitionName: aws.String("long"),
		Type: types.JobDefinitionTypeContainer, RetryStrategy: &types.RetryStrategy{Attempts: aws.Int32(2),
			EvaluateOnExit: []types.EvaluateOnExit{{OnStatusReason: aws.String("Host EC2*"), Action: types.RetryActionRetry}}},
		ContainerProperties: &types.ContainerProperties{Image: aws.String(sampleImage), Command: []string{"sleep", "300"},
			ResourceRequirements: []types.ResourceRequirement{{Type: types.ResourceTypeVcpu, Value: aws.String("1")},
				{Type: types.ResourceTypeMemory, Value: aws.String("64")}}}}); err != nil {
		t.Fatal(err)
	}
	in := func(name string) *batch.SubmitJobInput {
		return &batch.SubmitJobInput{JobName: aws.String(name), JobQueue: aws.String("default"), JobDefinition: aws.String("long")}
	}
	retried, terminated := submit(t, c, in("retried")), submit(t, c, in("terminated"))
	waitStatus(t, c, retried, types.JobStatusRunning)
	waitStatus(t, c, terminated, types.JobStatusRunning)

	bDone := startHost(ctx, "host-b")
	killA()
	if err := <-aDone; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if _, err := c.TerminateJob(rctx, &batch.TerminateJobInput{JobId: aws.String(terminated), Reason: aws.String("stop it")}); err != nil {
		t.Fatal(err)
	}
	clk.advance(31 * time.Second)
	lostAt := time.Now()
	waitJobs(t, c, []string{retried}, func(j types.JobDetail) string {
		if j.Status != types.JobStatusRunning || len(j.Attempts) != 1 {
			return "want RUNNING again after one attempt, got " + string(j.Status)
		}
		return ""
	}, 1)
	t.Logf("host loss to the retry RUNNING on the other host: %v (after the 30 s timeout)", time.Since(lostAt))
	jobs := describe(t, c, retried, terminated)
	if a := jobs[retried].Attempts[0]; aws.ToString(a.StatusReason) != "Host EC2 (instance host-a) terminated." || a.Container.ExitCode != nil {
		t.Errorf("retried job's first attempt: %q exit %v, want the host-terminated reason and no exit code",
			aws.ToString(a.StatusReason), a.Container.ExitCode)
	}
	if j := waitFinal(t, c, 2*time.Minute, terminated)[terminated]; j.Status != types.JobStatusFailed || aws.ToString(j.StatusReason) != "stop it" {
		t.Errorf("terminated job on the lost host: %s (%q), want FAILED with the termination's reason", j.Status, aws.ToString(j.StatusReason))
	}
	cancel()
	<-bDone
}
