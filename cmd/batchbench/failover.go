package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go/jetstream"
)

// failoverSamples is how many times the failover phase kills the active
// scheduler.
const failoverSamples = 3

// failover measures failover_s: from kill -9 of the active scheduler
// process to the next placement, by the standby. It runs its own small
// deployment, so that no other figure changes: a batchd with every service
// but the scheduler (its embedded NATS, the api, the monitor, the
// launcher) and two scheduler processes beside it. Each sample runs a job
// (some scheduler is active), kills the lease holder, submits a job at
// once and takes the time to its STARTING state being stored (placement
// plus the monitor's record write); the killed one is started again as
// the next standby.
func (b *bench) failover(ctx context.Context) error {
	bin := b.srv.cmd.Path
	root := filepath.Join(filepath.Dir(b.srv.data), "failover")
	srv, err := startServer(ctx, bin, root, b.cfg.concurrency, "--services", "api,monitor,launcher,notifier")
	if err != nil {
		return err
	}
	defer func() {
		host := srv.hostID()
		b.pm.cleanUp(host, false)
		srv.stop()
		b.pm.cleanUp(host, true)
	}()
	cl, err := newClient(srv)
	if err != nil {
		return err
	}
	defer cl.close()
	rec, err := newRecorder(cl.nc, queueSched)
	if err != nil {
		return err
	}
	if err := cl.setup(ctx, b.cfg); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	scheds := map[int]*exec.Cmd{}
	start := func(i int) error {
		logf, err := os.OpenFile(filepath.Join(root, fmt.Sprintf("scheduler-%d.log", i)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		cmd := exec.Command(bin, "--nats-url", "nats://"+srv.natsAddr, "--services", "scheduler",
			"--data", filepath.Join(root, fmt.Sprintf("scheduler-%d", i)), "--log-level", "warn")
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			logf.Close()
			return fmt.Errorf("start scheduler: %w", err)
		}
		go func() { _ = cmd.Wait(); logf.Close() }()
		scheds[i] = cmd
		return nil
	}
	defer func() {
		for _, c := range scheds {
			_ = c.Process.Signal(syscall.SIGTERM)
		}
	}()
	for i := range 2 {
		if err := start(i); err != nil {
			return err
		}
	}
	js, err := jetstream.New(cl.nc)
	if err != nil {
		return err
	}
	run := func(name string) (string, error) {
		ans, err := request(ctx, cl.nc, "SubmitJob", submitBody(name, queueSched, defTrue))
		if err != nil {
			return "", err
		}
		return jobID(ans)
	}
	waitEnd := func(id string) error {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		return rec.waitFor(wctx, func() bool {
			_, ok := rec.event(id, "SUCCEEDED")
			return ok
		})
	}
	var samples []time.Duration
	for n := range failoverSamples {
		id, err := run(fmt.Sprintf("failover-warm-%d", n))
		if err != nil {
			return err
		}
		if err := waitEnd(id); err != nil {
			return fmt.Errorf("job before the kill: %w", err)
		}
		pid, err := leaseHolderPID(ctx, js)
		if err != nil {
			return err
		}
		victim := -1
		for i, c := range scheds {
			if c.Process.Pid == pid {
				victim = i
			}
		}
		if victim < 0 {
			return fmt.Errorf("the lease holder (pid %d) is none of the bench's schedulers", pid)
		}
		killed := time.Now()
		_ = scheds[victim].Process.Kill() // SIGKILL
		id, err = run(fmt.Sprintf("failover-%d", n))
		if err != nil {
			return err
		}
		if err := waitEnd(id); err != nil {
			return fmt.Errorf("job after the kill: %w", err)
		}
		st, ok := rec.event(id, "STARTING")
		if !ok || st.decided.IsZero() {
			return fmt.Errorf("job %s: no STARTING event with a decision time", id)
		}
		d := st.decided.Sub(killed)
		b.logf("  sample %d: scheduler-%d killed, next placement stored %.2f s later", n+1, victim, d.Seconds())
		samples = append(samples, d)
		if err := start(victim); err != nil {
			return err
		}
	}
	f := b.res.Figures
	f["failover_s"] = round(percentile(samples, 50)/1000, 2)
	f["failover_max_s"] = round(slicesMax(samples).Seconds(), 2)
	f["failover_samples"] = len(samples)
	return nil
}

// leaseHolderPID reads the scheduler lease and returns the process id in
// its holder name (host-pid-random).
func leaseHolderPID(ctx context.Context, js jetstream.JetStream) (int, error) {
	kv, err := js.KeyValue(ctx, events.BucketScheduler)
	if err != nil {
		return 0, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		e, err := kv.Get(ctx, events.KeySchedulerLease)
		if err == nil {
			var l events.SchedulerLease
			if err := json.Unmarshal(e.Value(), &l); err != nil {
				return 0, err
			}
			parts := strings.Split(l.Holder, "-")
			if len(parts) >= 3 {
				if pid, err := strconv.Atoi(parts[len(parts)-2]); err == nil {
					return pid, nil
				}
			}
			return 0, fmt.Errorf("lease holder %q names no process", l.Holder)
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no scheduler holds the lease: %w", err)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func slicesMax(d []time.Duration) time.Duration {
	var m time.Duration
	for _, v := range d {
		m = max(m, v)
	}
	return m
}
