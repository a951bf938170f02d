package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	pb "github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/natstest"
	"github.com/batchd/batchd/services/api"
	"github.com/batchd/batchd/services/monitor"
	"github.com/batchd/batchd/services/scheduler"
	"github.com/nats-io/nats.go/jetstream"
)

// BenchmarkArray10000 measures a 10,000-child array job from SubmitJob to
// every child RUNNABLE (as the parent's statusSummary reports it), with
// the api, monitor and scheduler running in-process on embedded
// JetStream. No launcher runs, so the children stay RUNNABLE.
//
//	go test ./cmd/batchd -run '^$' -bench Array10000 -benchtime 3x
func BenchmarkArray10000(b *testing.B) {
	const size = 10000
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, ns := startStack(b, monitor.DefaultConfig())
	if _, err := c.RegisterJobDefinition(ctx, &batch.RegisterJobDefinitionInput{JobDefinitionName: aws.String("bench"),
		Type: types.JobDefinitionTypeContainer, ContainerProperties: &types.ContainerProperties{Image: aws.String(sampleImage),
			ResourceRequirements: []types.ResourceRequirement{{Type: types.ResourceTypeVcpu, Value: aws.String("1")},
				{Type: types.ResourceTypeMemory, Value: aws.String("32")}}}}); err != nil {
		b.Fatal(err)
	}
	js, err := jetstream.New(ns.Conn(b))
	if err != nil {
		b.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, events.BucketJobs)
	if err != nil {
		b.Fatal(err)
	}
	var submitTotal, runnableTotal time.Duration
	cpuStart := cpuTime()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		out, err := c.SubmitJob(ctx, &batch.SubmitJobInput{JobName: aws.String("big"), JobQueue: aws.String("default"),
			JobDefinition: aws.String("bench"), ArrayProperties: &types.ArrayProperties{Size: aws.Int32(size)}})
		if err != nil {
			b.Fatal(err)
		}
		submitTotal += time.Since(start)
		key := events.Token(aws.ToString(out.JobId))
		deadline := time.Now().Add(5 * time.Minute)
		for {
			if e, err := kv.Get(ctx, key); err == nil {
				var p pb.JobDetail
				if json.Unmarshal(e.Value(), &p) == nil && p.ArrayProperties != nil && p.ArrayProperties.StatusSummary["RUNNABLE"] == size {
					break
				}
			}
			if time.Now().After(deadline) {
				b.Fatal("the children did not all become RUNNABLE within 5 minutes")
			}
			time.Sleep(5 * time.Millisecond)
		}
		runnableTotal += time.Since(start)
	}
	// The CPU time of the whole process (server, api, monitor, scheduler):
	// steadier than the elapsed time on a shared machine.
	b.ReportMetric(float64((cpuTime()-cpuStart).Milliseconds())/float64(b.N), "ms-cpu/op")
	b.ReportMetric(float64(submitTotal.Milliseconds())/float64(b.N), "ms-submit/op")
	b.ReportMetric(float64(runnableTotal.Milliseconds())/float64(b.N), "ms-all-runnable/op")
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startStack runs the api (with the default queue), monitor and scheduler
// in-process on an embedded JetStream server, without a launcher, and
// returns an AWS SDK client of the api.
func startStack(tb testing.TB, mcfg monitor.Config) (*batch.Client, *natstest.Server) {
	tb.Helper()
	ns := natstest.Run(tb, "")
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := api.Start(ctx, api.Config{DefaultEnvironment: &api.DefaultEnvironment{Name: "default", Queue: "default", MaxvCpus: 4}},
		api.Deps{NATS: ns.Conn(tb), Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Close)
	go func() { _ = monitor.Run(ctx, mcfg, monitor.Deps{NATS: ns.Conn(tb), Logger: log}) }()
	go func() {
		_ = scheduler.Run(ctx, scheduler.DefaultConfig(), scheduler.Deps{NATS: ns.Conn(tb), Logger: log})
	}()
	hs := httptest.NewServer(srv.Handler())
	tb.Cleanup(hs.Close)
	return batch.New(batch.Options{Region: "us-east-1", BaseEndpoint: aws.String(hs.URL),
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}), ns
}
