package launcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/telemetry"
	"github.com/batchd/batchd/services/launcher/internal/runtime"
	"github.com/batchd/batchd/services/launcher/internal/runtime/podman"
	"github.com/batchd/batchd/services/launcher/internal/runtime/sim"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/encoding/json"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Config describes the host this launcher runs jobs on.
type Config struct {
	HostID    string // stable across restarts: containers are re-adopted by it
	HostName  string
	VCPUs     float64
	MemoryMiB int64
	// GPUs are the host's GPUs, as CDI devices: GPUDevices when set
	// ("nvidia.com/gpu=0", ...), else, with DiscoverGPUs, the
	// nvidia.com/gpu devices of the CDI specs in CDIDirs (default /etc/cdi
	// and /var/run/cdi) read at start, else GPUs devices named by index.
	GPUs         int
	GPUDevices   []string
	DiscoverGPUs bool
	CDIDirs      []string
	// ComputeEnvironments limits the host to these environments; empty
	// serves all.
	ComputeEnvironments []string
	// Network is the containers' network mode: host, bridge or none.
	Network string
	// HostAddress is the address containers on other hosts reach this
	// host's containers at, advertised in the host's entry (the main
	// node's address of a multi-node job); "" is DefaultHostAddress.
	HostAddress string
	// StopGrace is the time between SIGTERM and SIGKILL on timeout.
	StopGrace time.Duration
	// Runtime is the engine used when Deps.Runtime is nil: RuntimePodman
	// (the default) or RuntimeSim (simulated containers, see
	// internal/runtime/sim).
	Runtime string
	// CPULimit is how a job's vCPUs limit its container: "shares" (the
	// default, as AWS: 1024 CPU shares per vCPU, idle CPU may be used) or
	// "quota" (a hard CFS quota of vCPU cores).
	CPULimit string
	// EFSVolumes maps EFS file system ids to the host folders (an NFS
	// export mounted there, for example) that jobs' efsVolumeConfiguration
	// volumes mount.
	EFSVolumes map[string]string
	// InsecureRegistries are the registries (host or host:port) that
	// RuntimePodman pulls from without TLS verification, plain HTTP
	// included.
	InsecureRegistries []string
	// PodmanURI is the Podman API socket of RuntimePodman.
	PodmanURI string
	// SimImages are the images RuntimeSim has; empty: every image.
	SimImages []string
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.HostID == "":
		return errors.New("launcher: host id is required")
	case c.VCPUs <= 0:
		return fmt.Errorf("launcher: host vCPUs must be positive, got %g", c.VCPUs)
	case c.MemoryMiB <= 0:
		return fmt.Errorf("launcher: host memory must be positive, got %d MiB", c.MemoryMiB)
	}
	if c.HostAddress != "" && net.ParseIP(c.HostAddress) == nil {
		return fmt.Errorf("launcher: host address %q is not an IP address", c.HostAddress)
	}
	switch c.CPULimit {
	case "", runtime.CPUShares, runtime.CPUQuota:
	default:
		return fmt.Errorf("launcher: cpu limit %q is not one of shares, quota", c.CPULimit)
	}
	switch c.Network {
	case "", "host", "bridge", "none":
	default:
		return fmt.Errorf("launcher: network %q is not one of host, bridge, none", c.Network)
	}
	switch c.Runtime {
	case "", RuntimePodman, RuntimeSim:
	default:
		return fmt.Errorf("launcher: runtime %q is not one of %s, %s", c.Runtime, RuntimePodman, RuntimeSim)
	}
	return nil
}

// Deps are the launcher's connections.
type Deps struct {
	NATS *nats.Conn
	// Runtime runs the containers; nil connects to Podman at
	// Config.PodmanURI.
	Runtime runtime.Runtime
	Logger  *slog.Logger
	Clock   func() time.Time
}

// Runtimes a launcher can use.
const (
	RuntimePodman = "podman"
	RuntimeSim    = "sim"
)

// Labels on every container the launcher starts.
const (
	labelJob     = "batch.job-id"
	labelAttempt = "batch.attempt"
	labelHost    = "batch.host"
	labelQueue   = "batch.queue"
)

type launcher struct {
	cfg     Config
	log     *slog.Logger
	clock   func() time.Time
	js      jetstream.JetStream
	rt      runtime.Runtime
	jobs    jetstream.KeyValue
	tracer  trace.Tracer
	started time.Time
	gpus    *gpuSet
	lag     recordLag // how late the monitor records placements

	mu      sync.Mutex
	running map[string]*attemptRun // "<job>/<attempt>" being supervised
	wg      sync.WaitGroup
}

// Run serves placements for the host until ctx ends. Containers keep
// running when it returns; the next Run re-adopts them.
func Run(ctx context.Context, cfg Config, d Deps) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Network == "" {
		cfg.Network = "host"
	}
	if cfg.HostAddress == "" {
		cfg.HostAddress = DefaultHostAddress()
	}
	if cfg.StopGrace == 0 {
		cfg.StopGrace = 30 * time.Second
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Clock == nil {
		d.Clock = time.Now
	}
	if d.Runtime == nil && cfg.Runtime == RuntimeSim {
		d.Runtime = sim.New(sim.Config{Images: cfg.SimImages, Clock: d.Clock})
	}
	if d.Runtime == nil {
		uri := cfg.PodmanURI
		if uri == "" {
			uri = DefaultPodmanURI()
		}
		rt, err := podman.New(ctx, uri)
		if err != nil {
			return fmt.Errorf("launcher: %w", err)
		}
		rt.SetInsecureRegistries(cfg.InsecureRegistries)
		d.Runtime = rt
	}
	gpus, err := hostGPUs(cfg)
	if err != nil {
		// A spec that cannot be read is skipped; the others count.
		d.Logger.Warn("launcher: reading the CDI specs", "err", err)
	}
	cfg.GPUDevices, cfg.GPUs = gpus, len(gpus)
	js, err := bus.JetStream(d.NATS)
	if err != nil {
		return fmt.Errorf("launcher: jetstream: %w", err)
	}
	if err := bus.AwaitStreams(ctx, js, d.Logger); err != nil {
		return fmt.Errorf("launcher: %w", err)
	}
	l := &launcher{cfg: cfg, log: d.Logger.With("service", "launcher", "host", cfg.HostID), clock: d.Clock, js: js,
		rt: d.Runtime, running: map[string]*attemptRun{}, tracer: telemetry.Tracer("launcher"), started: d.Clock(),
		gpus: newGPUSet(cfg.GPUDevices)}
	kvs, err := bus.Buckets(ctx, js, events.BucketHosts, events.BucketJobs)
	if err != nil {
		return fmt.Errorf("launcher: %w", err)
	}
	hosts := kvs[events.BucketHosts]
	l.jobs = kvs[events.BucketJobs]

	// Re-adopt before taking new work, so a redelivered placement finds
	// its container already supervised.
	if err := l.recover(ctx); err != nil {
		return err
	}
	if err := l.heartbeat(ctx, hosts); err != nil {
		return err
	}
	h := bus.NewHandlers(l.tracer)
	bus.On(h, "launcher.placed", l.onPlaced)
	bus.On(h, "launcher.stop", l.onStop)
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		_ = bus.Consume(ctx, js, bus.ConsumerSpec{
			Stream: events.StreamJobs, Durable: "launcher-" + cfg.HostID, AckWait: placementAckWait,
			Filters:    []string{events.PlacedHostFilter(cfg.HostID), events.StopHostFilter(cfg.HostID)},
			MaxDeliver: maxPlacementDeliveries, OnGiveUp: l.giveUp, Logger: l.log,
		}, h)
	}()
	l.log.Info("launcher started", "vcpus", cfg.VCPUs, "memoryMiB", cfg.MemoryMiB, "gpus", cfg.GPUDevices, "network", cfg.Network, "address", cfg.HostAddress)

	tick := time.NewTicker(bus.HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			<-consumed
			// Say the host is gone so nothing more is placed on it.
			dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = hosts.Delete(dctx, cfg.HostID)
			cancel()
			l.wg.Wait()
			return nil
		case <-tick.C:
			if err := l.heartbeat(ctx, hosts); err != nil && ctx.Err() == nil {
				l.log.Warn("heartbeat", "err", err)
			}
		}
	}
}

func (l *launcher) heartbeat(ctx context.Context, hosts jetstream.KeyValue) error {
	h := events.Host{ID: l.cfg.HostID, Name: l.cfg.HostName, VCPUs: l.cfg.VCPUs, MemoryMiB: l.cfg.MemoryMiB,
		GPUs: l.cfg.GPUs, GPUDevices: l.cfg.GPUDevices, ComputeEnvironments: l.cfg.ComputeEnvironments,
		Address: l.cfg.HostAddress, StartedAt: l.started.UnixMilli(),
		HeartbeatAt: l.clock().UnixMilli()}
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if _, err := hosts.Put(ctx, l.cfg.HostID, data); err != nil {
		return fmt.Errorf("launcher: heartbeat: %w", err)
	}
	return nil
}

// placementAckWait is how long a placement may stay unsettled without news.
const placementAckWait = 2 * time.Minute

// maxPlacementDeliveries bounds how often a placement is delivered before
// the launcher gives up on it and reports the attempt failed.
const maxPlacementDeliveries = 50

// onPlaced starts supervising a placement; the message is acknowledged once
// the container runs (or cannot), so a crash before that redelivers it.
//
// The span "launcher.placed" (a child of the scheduler's placement) lasts
// until then.
func (l *launcher) onPlaced(ctx context.Context, p events.JobPlaced, d *bus.Delivery) error {
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(telemetry.Attempt(p.Attempt), attribute.String("batch.host", l.cfg.HostID))
	run := l.claim(p.JobID, p.Attempt)
	if run == nil {
		return nil // already supervised (re-adopted or redelivered)
	}
	// Held: the delivery (and its span) is settled once the container
	// runs, or cannot.
	d.Hold()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer l.release(p.JobID, p.Attempt)
		verdict, rec, err := l.stillWanted(ctx, p)
		if verdict != placementWanted || err != nil {
			defer span.End()
		}
		switch {
		case err != nil:
			if ctx.Err() == nil {
				l.log.WarnContext(ctx, "read job record", telemetry.LogJobID, p.JobID, "err", err)
			}
			_ = d.Nak(time.Second)
		case verdict == placementLagging:
			_ = d.Nak(time.Second) // the monitor has not recorded it yet
		case verdict == placementTerminated:
			l.dropUnstartedPod(ctx, p)
			l.reportNotStarted(ctx, p, rec.StatusReason, d)
		case verdict == placementRunning:
			// Not supervised here although recorded RUNNING on this host:
			// a launcher died after reporting the start and before
			// acknowledging, and recover found no container for it.
			l.reportGone(ctx, p, d)
		case verdict == placementUnwanted:
			l.log.InfoContext(ctx, "placement no longer wanted", telemetry.LogJobID, p.JobID, "attempt", p.Attempt, "status", rec.Status)
			l.dropUnstartedPod(ctx, p)
			_ = d.Ack()
		default:
			l.run(ctx, p, run, d, span)
		}
	}()
	return nil
}

// dropUnstartedPod removes what a launcher that died while creating a
// task's pod left of it (recoverTasks leaves an incomplete pod to its
// placement), with the GPUs held for it, once the placement is not to be
// carried out: nothing here supervises this attempt (onPlaced claimed it).
func (l *launcher) dropUnstartedPod(ctx context.Context, p events.JobPlaced) {
	if p.Task == nil {
		return // a single container never started is removed by recover
	}
	if err := l.rt.RemovePod(ctx, containerName(p.JobID, p.Attempt)); err != nil {
		l.log.WarnContext(ctx, "remove the pod of a placement not carried out", telemetry.LogJobID, p.JobID,
			"attempt", p.Attempt, "err", err)
		return
	}
	l.gpus.release(attemptKey(p.JobID, p.Attempt))
}

// giveUp reports an attempt failed when its placement could not be carried
// out in all its deliveries, so the job does not stay STARTING.
func (l *launcher) giveUp(ctx context.Context, ev events.Event, _ *bus.Delivery, cause error) {
	p, ok := ev.(events.JobPlaced)
	if !ok {
		return
	}
	reason := truncate("CannotStartContainerError: gave up on the placement: "+cause.Error(), 255)
	exit := events.JobExited{JobID: p.JobID, Attempt: p.Attempt, HostID: l.cfg.HostID, Reason: reason,
		StatusReason: reason, StoppedAt: l.clock().UnixMilli()}
	if err := l.report(ctx, exit); err != nil {
		l.log.ErrorContext(ctx, "report a placement given up on", telemetry.LogJobID, p.JobID, "err", err)
	}
}

// What the job record says of a placement.
type placementVerdict int

const (
	placementWanted     placementVerdict = iota
	placementUnwanted                    // cancelled, over, or running already
	placementLagging                     // the record does not show it yet
	placementTerminated                  // TerminateJob came before the container
	placementRunning                     // recorded RUNNING here: its start was reported
)

// stillWanted reads the job record to decide whether a placement starts a
// container. Only a record that shows this attempt STARTING does: a job
// cancelled before the monitor recorded the placement is FAILED, and a
// placement redelivered after its attempt ran shows the attempt over. A
// record that still shows the job waiting (the monitor has not applied the
// placement yet) is read again for a short while.
func (l *launcher) stillWanted(ctx context.Context, p events.JobPlaced) (placementVerdict, placementRecord, error) {
	wait := time.Millisecond
	received := time.Now()
	deadline := l.clock().Add(2 * time.Second)
	first := l.lag.first()
	if first > 0 {
		select {
		case <-ctx.Done():
			return 0, placementRecord{}, ctx.Err()
		case <-time.After(first):
		}
		wait = max(first/4, time.Millisecond)
	}
	for reads := 1; ; reads++ {
		var rec placementRecord
		if _, err := bus.GetJSON(ctx, l.jobs, events.Token(p.JobID), &rec); err != nil {
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				return placementUnwanted, rec, nil
			}
			return 0, rec, err
		}
		if v, settled := verdictOf(rec, p.Attempt, l.cfg.HostID); settled {
			switch {
			case v != placementWanted:
			case reads == 1 && first > 0:
				// Shown at the first read: perhaps earlier, so the
				// estimate tries a shorter wait next time.
				l.lag.observe(first * 3 / 4)
			default:
				l.lag.observe(time.Since(received))
			}
			return v, rec, nil
		}
		if l.clock().After(deadline) {
			return placementLagging, rec, nil
		}
		select {
		case <-ctx.Done():
			return 0, rec, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// placementRecord is the part of a job record that decides about a
// placement (decoding only it spares the launcher the whole record, read
// at least once for every placement).
type placementRecord struct {
	Status       batch.JobStatus `json:"status"`
	StatusReason string          `json:"statusReason"`
	HostID       string          `json:"hostId"`
	IsTerminated bool            `json:"isTerminated"`
	// Attempts are the ended attempts; only their number matters here.
	Attempts []struct{} `json:"attempts"`
}

// currentAttempt is the attempt the record is at (batch.JobDetail's
// CurrentAttempt: the ended ones plus one).
func (r *placementRecord) currentAttempt() int { return len(r.Attempts) + 1 }

// verdictOf is what a job record says of a placement of attempt on host;
// settled is false while the record does not show the placement yet.
func verdictOf(rec placementRecord, attempt int, host string) (v placementVerdict, settled bool) {
	current := rec.currentAttempt() == attempt
	switch {
	case len(rec.Attempts) >= attempt || rec.Status.Final():
		return placementUnwanted, true
	case rec.Status == batch.StatusRunning && current && rec.HostID == host:
		return placementRunning, true
	case rec.Status == batch.StatusRunning:
		return placementUnwanted, true
	case rec.Status == batch.StatusStarting && current && rec.IsTerminated:
		return placementTerminated, true
	case rec.Status == batch.StatusStarting && current:
		return placementWanted, true
	}
	return placementLagging, false
}

// reportNotStarted ends an attempt whose job was terminated before its
// container started: no container, FAILED with the termination reason.
func (l *launcher) reportNotStarted(ctx context.Context, p events.JobPlaced, reason string, d *bus.Delivery) {
	ev := events.JobExited{JobID: p.JobID, Attempt: p.Attempt, HostID: l.cfg.HostID, Reason: reason,
		StatusReason: reason, StoppedAt: l.clock().UnixMilli(), NoRetry: true}
	if err := l.report(ctx, ev); err != nil {
		l.log.ErrorContext(ctx, "report terminated attempt", telemetry.LogJobID, p.JobID, "err", err)
		_ = d.Nak(time.Second)
		return
	}
	l.log.InfoContext(ctx, "job terminated before its container started", telemetry.LogJobID, p.JobID, "attempt", p.Attempt)
	_ = d.Ack()
}

func attemptKey(job string, attempt int) string { return fmt.Sprintf("%s/%d", job, attempt) }

// claim marks an attempt as supervised by this launcher; nil when it is
// already.
func (l *launcher) claim(job string, attempt int) *attemptRun {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := attemptKey(job, attempt)
	if l.running[k] != nil {
		return nil
	}
	run := &attemptRun{}
	l.running[k] = run
	return run
}

// supervised returns the run of an attempt this launcher supervises.
func (l *launcher) supervised(job string, attempt int) *attemptRun {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.running[attemptKey(job, attempt)]
}

func (l *launcher) release(job string, attempt int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.running, attemptKey(job, attempt))
	l.gpus.release(attemptKey(job, attempt))
}
