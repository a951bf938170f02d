package main

import (
	"context"
	"fmt"
	"os"
	goruntime "runtime"
	"time"

	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// submit measures how many SubmitJob calls per second batchd accepts (each
// answered only once the job is stored in JetStream), submitClients callers
// at once, over NATS and then over HTTP. The jobs wait in queue bench-hold,
// whose only environment is DISABLED. Before each transport the server is
// let settle (the monitor has recorded every earlier job).
func (b *bench) submit(ctx context.Context) error {
	n, clients := b.cfg.submitJobs, b.cfg.submitClients
	f := b.res.Figures
	f["submit_jobs"], f["submit_clients"] = n, clients
	body := submitBody("held", queueHold, defTrue)

	// A few connections, as separate client processes would have.
	conns := make([]*nats.Conn, 4)
	for i := range conns {
		nc, err := nats.Connect("nats://"+b.srv.natsAddr, nats.Name("batchbench-submit"))
		if err != nil {
			return err
		}
		defer nc.Close()
		conns[i] = nc
	}
	start, cpu := time.Now(), b.cpuMeter()
	err := parallel(ctx, n, clients, func(ctx context.Context, i int) error {
		_, err := request(ctx, conns[i%len(conns)], "SubmitJob", body)
		return err
	})
	if err != nil {
		return err
	}
	f["submit_nats_per_s"] = round(float64(n)/time.Since(start).Seconds(), 0)
	cpu.report(f, "submit_nats", n)
	b.held += n
	b.logf("  NATS: %.0f jobs/s; letting the server settle", f["submit_nats_per_s"])
	if err := b.settle(ctx); err != nil {
		return err
	}

	start, cpu = time.Now(), b.cpuMeter()
	err = parallel(ctx, n, clients, func(ctx context.Context, i int) error {
		_, err := b.cl.post(ctx, "SubmitJob", body)
		return err
	})
	if err != nil {
		return err
	}
	f["submit_http_per_s"] = round(float64(n)/time.Since(start).Seconds(), 0)
	cpu.report(f, "submit_http", n)
	b.held += n
	b.logf("  HTTP: %.0f jobs/s", f["submit_http_per_s"])
	return nil
}

// settle waits until every held job is RUNNABLE and the monitor has no
// fact left to apply (its consumer has nothing pending, three times in a
// row 300 ms apart).
func (b *bench) settle(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	if err := b.rec.waitFor(ctx, func() bool { return b.rec.count(queueHold, "RUNNABLE") >= b.held }); err != nil {
		return fmt.Errorf("waiting for %d held jobs to be RUNNABLE (%d are): %w", b.held, b.rec.count(queueHold, "RUNNABLE"), err)
	}
	js, err := jetstream.New(b.cl.nc)
	if err != nil {
		return err
	}
	quiet := 0
	for quiet < 3 {
		n, consumers, err := bus.Backlog(ctx, js, events.StreamJobs, "monitor-")
		if err != nil {
			return fmt.Errorf("monitor consumers: %w", err)
		}
		if consumers >= events.JobPartitions && n == 0 {
			quiet++
		} else {
			quiet = 0
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	return nil
}

// cpuMeter measures the CPU time batchd, this bench and the whole machine
// spend over a span.
type cpuMeter struct {
	b                  *bench
	server, self, busy float64
	start              time.Time
}

func (b *bench) cpuMeter() cpuMeter {
	return cpuMeter{b: b, server: b.srv.cpuSeconds(), self: procCPUSeconds(os.Getpid()), busy: busyCPUSeconds(), start: time.Now()}
}

// report adds <prefix>_batchd_cpu_ms_per_job, _client_cpu_ms_per_job and
// _machine_busy (the share of the machine's cores that were busy, 1 = all).
func (m cpuMeter) report(f map[string]any, prefix string, jobs int) {
	wall := time.Since(m.start).Seconds()
	f[prefix+"_batchd_cpu_ms_per_job"] = round((m.b.srv.cpuSeconds()-m.server)*1000/float64(jobs), 3)
	f[prefix+"_client_cpu_ms_per_job"] = round((procCPUSeconds(os.Getpid())-m.self)*1000/float64(jobs), 3)
	f[prefix+"_machine_busy"] = round((busyCPUSeconds()-m.busy)/wall/float64(goruntime.NumCPU()), 2)
}
