package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Sizes of the control-plane phases.
const (
	simHosts        = 16
	simHostVCPUs    = 16
	rawPublishes    = 100000
	rawPayloadBytes = 1536
)

// lifecycle measures lifecycle_jobs_per_s: jobs carried from SubmitJob to
// SUCCEEDED per second by the control plane alone. It runs its own batchd
// with every service in one process and 16 simulated hosts (--runtime sim:
// the containers are goroutines that run `true` at once), submits
// lifecycleJobs jobs over NATS and takes the time from the first submit to
// the last SUCCEEDED event. Beside it: the JetStream writes (stored
// messages, over every stream and bucket) one job cost, batchd's CPU per
// job, and the raw async-publish rate of the same server in the same run
// (1.5 KB messages to a scratch stream), so the figure reads as a fraction
// of what the bus takes.
func (b *bench) lifecycle(ctx context.Context) error {
	n := b.cfg.lifecycleJobs
	srv, cl, rec, err := b.simServer(ctx, "lifecycle", "bench-sim", simHosts*simHostVCPUs)
	if err != nil {
		return err
	}
	defer b.stopSim(srv, cl)
	f := b.res.Figures
	js, err := jetstream.New(cl.nc)
	if err != nil {
		return err
	}
	before, err := storedMessages(ctx, js)
	if err != nil {
		return err
	}
	body := submitBody("life", "bench-sim", defTrue)
	b.logf("  %d jobs through %d simulated hosts", n, simHosts)
	start, cpu := time.Now(), b.cpuMeterOf(srv)
	err = parallel(ctx, n, b.cfg.submitClients, func(ctx context.Context, i int) error {
		_, err := request(ctx, cl.nc, "SubmitJob", body)
		return err
	})
	if err != nil {
		return err
	}
	submitted := time.Since(start)
	wctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	if err := rec.waitFor(wctx, func() bool {
		s, fl := rec.final("bench-sim")
		return s+fl >= n
	}); err != nil {
		s, fl := rec.final("bench-sim")
		return fmt.Errorf("waiting for %d jobs to end (%d SUCCEEDED, %d FAILED): %w", n, s, fl, err)
	}
	took := time.Since(start)
	if _, failed := rec.final("bench-sim"); failed > 0 {
		return fmt.Errorf("%w: %d of the lifecycle jobs FAILED", errJobFailed, failed)
	}
	after, err := storedMessages(ctx, js)
	if err != nil {
		return err
	}
	f["lifecycle_jobs"] = n
	f["lifecycle_jobs_per_s"] = round(float64(n)/took.Seconds(), 0)
	f["lifecycle_submit_s"] = round(submitted.Seconds(), 1)
	f["lifecycle_writes_per_job"] = round(float64(after-before)/float64(n), 1)
	cpu.report(f, "lifecycle", n)
	b.logf("  %.0f jobs/s, %.1f JetStream writes a job", f["lifecycle_jobs_per_s"], f["lifecycle_writes_per_job"])

	rate, err := rawPublishRate(ctx, js)
	if err != nil {
		return fmt.Errorf("raw publish rate: %w", err)
	}
	f["raw_async_publish_per_s"] = round(rate, 0)
	b.logf("  the same server takes %.0f async publishes/s", rate)
	return nil
}

// backlogRecord measures backlog_record_s: the time from the first of
// backlogJobs SubmitJob calls to the last job having its record (its
// SUBMITTED event), on its own batchd whose queue's only environment is
// DISABLED, so that nothing but recording happens.
func (b *bench) backlogRecord(ctx context.Context) error {
	n := b.cfg.queued
	srv, cl, rec, err := b.simServer(ctx, "backlog-record", "bench-rec", 0)
	if err != nil {
		return err
	}
	defer b.stopSim(srv, cl)
	body := submitBody("rec", "bench-rec", defTrue)
	b.logf("  %d jobs submitted, waiting for their records", n)
	start := time.Now()
	var calls atomic.Int64
	err = parallel(ctx, n, b.cfg.submitClients, func(ctx context.Context, i int) error {
		_, err := request(ctx, cl.nc, "SubmitJob", body)
		calls.Add(1)
		return err
	})
	if err != nil {
		return err
	}
	submitted := time.Since(start)
	wctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	if err := rec.waitFor(wctx, func() bool { return rec.count("bench-rec", "SUBMITTED") >= n }); err != nil {
		return fmt.Errorf("waiting for %d records (%d made): %w", n, rec.count("bench-rec", "SUBMITTED"), err)
	}
	f := b.res.Figures
	f["backlog_record_s"] = round(time.Since(start).Seconds(), 1)
	f["backlog_record_submit_s"] = round(submitted.Seconds(), 1)
	f["backlog_record_jobs"] = n
	b.logf("  %d records in %.1f s (submitted in %.1f s)", n, f["backlog_record_s"], submitted.Seconds())
	return nil
}

// simServer starts a batchd of its own, every service in one process, with
// simulated hosts, an environment of maxVCPUs (0: DISABLED) and queue
// queue on it, and the bench's job definitions.
func (b *bench) simServer(ctx context.Context, name, queue string, maxVCPUs int) (*server, *client, *recorder, error) {
	root := filepath.Join(filepath.Dir(b.srv.data), name)
	srv, err := startServer(ctx, b.srv.cmd.Path, root, simHostVCPUs, "--runtime", "sim",
		"--sim-hosts", strconv.Itoa(simHosts))
	if err != nil {
		return nil, nil, nil, err
	}
	b.profiled.Store(srv)
	fail := func(err error) (*server, *client, *recorder, error) {
		b.profiled.Store(nil)
		srv.stop()
		return nil, nil, nil, err
	}
	cl, err := newClient(srv)
	if err != nil {
		return fail(err)
	}
	rec, err := newRecorder(cl.nc)
	if err != nil {
		cl.close()
		return fail(err)
	}
	state, vcpus := "ENABLED", maxVCPUs
	if maxVCPUs == 0 {
		state, vcpus = "DISABLED", 1
	}
	steps := []struct {
		op string
		in any
	}{
		{"CreateComputeEnvironment", map[string]any{"computeEnvironmentName": queue + "-ce", "type": "MANAGED", "state": state,
			"computeResources": map[string]any{"type": "EC2", "maxvCpus": vcpus, "minvCpus": 0,
				"instanceTypes": []string{"optimal"}, "subnets": []string{"subnet-bench"}, "securityGroupIds": []string{"sg-bench"}}}},
		{"CreateJobQueue", map[string]any{"jobQueueName": queue, "priority": 1, "state": "ENABLED",
			"computeEnvironmentOrder": []map[string]any{{"order": 1, "computeEnvironment": queue + "-ce"}}}},
		{"RegisterJobDefinition", map[string]any{"jobDefinitionName": defTrue, "type": "container", "containerProperties": map[string]any{
			"image": b.cfg.image, "command": []string{"true"}, "resourceRequirements": []map[string]string{
				{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}}}}},
	}
	for _, s := range steps {
		if err := cl.call(ctx, s.op, s.in, nil); err != nil {
			cl.close()
			return fail(fmt.Errorf("%s setup: %w", name, err))
		}
	}
	return srv, cl, rec, nil
}

// stopSim stops a deployment simServer started.
func (b *bench) stopSim(srv *server, cl *client) {
	cl.close()
	b.profiled.Store(nil)
	srv.stop()
}

// cpuMeterOf is cpuMeter for another batchd than the main one.
func (b *bench) cpuMeterOf(s *server) cpuMeter {
	m := &bench{srv: s}
	return m.cpuMeter()
}

// storedMessages is the number of messages ever stored in every stream of
// the account (buckets are streams): the sum of their last sequences.
func storedMessages(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	var total uint64
	l := js.ListStreams(ctx)
	for info := range l.Info() {
		total += info.State.LastSeq
	}
	if err := l.Err(); err != nil {
		return 0, fmt.Errorf("list streams: %w", err)
	}
	return total, nil
}

// rawPublishRate publishes rawPublishes messages of rawPayloadBytes
// asynchronously to a scratch file stream of the server (at most 4096 in
// flight) and returns how many it stored per second.
func rawPublishRate(ctx context.Context, js jetstream.JetStream) (float64, error) {
	const stream = "BENCH_RAW"
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{"bench.raw.>"},
		Storage: jetstream.FileStorage}); err != nil {
		return 0, err
	}
	defer func() { _ = js.DeleteStream(context.WithoutCancel(ctx), stream) }()
	payload := make([]byte, rawPayloadBytes)
	for i := range payload {
		payload[i] = 'x'
	}
	start := time.Now()
	for i := range rawPublishes {
		m := nats.NewMsg("bench.raw." + strconv.Itoa(i%64))
		m.Data = payload
		if _, err := js.PublishMsgAsync(m, jetstream.WithStallWait(time.Minute)); err != nil {
			return 0, err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return float64(rawPublishes) / time.Since(start).Seconds(), nil
}
