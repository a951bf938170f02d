package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/services/api/auth"
	"github.com/batchd/batchd/services/api/internal/dashboard"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"go.opentelemetry.io/otel/metric"
)

// loadTimeout bounds the initial load of a bucket mirror at start.
const loadTimeout = time.Minute

// Config configures the api service.
type Config struct {
	// HTTPAddr is where Run serves the HTTP API, e.g. "127.0.0.1:8420";
	// "" serves no HTTP (NATS only).
	HTTPAddr string
	// DefaultEnvironment, when set, is created at start unless it exists.
	DefaultEnvironment *DefaultEnvironment
	// MaxPayloadBytes caps SubmitJob request bodies; 0 means
	// DefaultMaxPayloadBytes (30 KiB, as AWS).
	MaxPayloadBytes int
	// Retention of the streams, passed to bus.EnsureStreams; nil means
	// bus.DefaultRetention.
	Retention *bus.Retention
	// Auth, when set, is the access control: every HTTP request must be
	// signed (SigV4) by one of its credentials and every NATS request come
	// from a credential's NATS account, and each operation must be allowed
	// by the caller's policy. nil leaves the API open.
	Auth *auth.Authenticator
	// AllowPrivileged allows privileged containers and host devices
	// (linuxParameters.devices) when Auth is set; without Auth they are
	// always allowed, as AWS allows them.
	AllowPrivileged bool
	// EFSVolumes are the EFS file system ids the launchers map to host
	// folders (id -> folder; the api uses the ids): a job definition whose
	// efsVolumeConfiguration names another is refused.
	EFSVolumes map[string]string
	// NoDashboard turns the web dashboard off: Handler then serves the
	// API alone (docs/dashboard.md).
	NoDashboard bool
	// TraceURL, when set, links the dashboard's trace ids to a trace
	// viewer: "{traceId}" is replaced by the id, e.g.
	// "http://jaeger:16686/trace/{traceId}".
	TraceURL string
}

// DefaultEnvironment names the compute environment (MANAGED, EC2, maxvCpus
// MaxvCpus, ENABLED) and the job queue (priority 1, that environment at
// order 1) created at start when they do not exist yet. An existing one is
// left as it is. Queue may be empty for no default queue.
type DefaultEnvironment struct {
	Name     string
	Queue    string
	MaxvCpus int
}

// Deps are what the service runs on.
type Deps struct {
	// NATS is the connection to the JetStream-enabled NATS server (required).
	NATS *nats.Conn
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
	// Metrics, when set, is served as GET /metrics by Handler (the
	// Prometheus endpoint of the process, made by its main).
	Metrics http.Handler
}

// Server is a running api service: its operations, the in-memory mirrors
// of the buckets it reads and its NATS service. Make one with Start.
type Server struct {
	cfg        Config
	log        *slog.Logger
	nc         *nats.Conn
	js         jetstream.JetStream
	jobsKV     jetstream.KeyValue
	jobsStream jetstream.Stream
	envs       *kvCache[batch.ComputeEnvironmentDetail]
	hosts      *kvCache[events.Host]
	dash       *dashboard.Dashboard
	queues     *kvCache[batch.JobQueueDetail]
	policies   *kvCache[batch.SchedulingPolicyDetail]
	resources  *kvCache[resourceRecord]
	defs       *defStore
	rules      *kvCache[batch.NotificationRule]
	settings   jetstream.KeyValue
	dlq        jetstream.Stream
	logs       *logReader
	logsOps    map[string]*logsOperation
	index      *jobIndex
	now        func() time.Time

	ops     []*operation
	byPath  map[string]*operation // by lower-case operation name
	opNames string

	metrics    http.Handler
	metricsReg metric.Registration

	svc        micro.Service
	natsSem    chan struct{}
	natsWG     sync.WaitGroup
	natsMu     sync.RWMutex
	natsClosed bool

	cancel    context.CancelFunc
	watchers  sync.WaitGroup
	closeOnce sync.Once
}

// Run runs the api service until ctx is done: Start, then the HTTP API on
// cfg.HTTPAddr (if set), then a clean shutdown.
func Run(ctx context.Context, cfg Config, d Deps) error {
	s, err := Start(ctx, cfg, d)
	if err != nil {
		return err
	}
	defer s.Close()
	if cfg.HTTPAddr == "" {
		<-ctx.Done()
		return nil
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("api: listen on %s: %w", cfg.HTTPAddr, err)
	}
	hs := NewHTTPServer(s.Handler())
	if s.dash != nil {
		// The dashboard's event streams stay open: end them, or Shutdown
		// would wait for them.
		hs.RegisterOnShutdown(s.dash.Close)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(LimitListener(ln, HTTPMaxConnections)) }()
	s.log.Info("api serving HTTP", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("api: serve HTTP on %s: %w", cfg.HTTPAddr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("api: shut down HTTP: %w", err)
	}
	return nil
}

// Start prepares and starts the service without an HTTP listener: it
// creates the streams and buckets, loads the compute environments, queues
// and job definitions, starts the ListJobs index, creates the default
// environment and queue, and serves the NATS API. Serve Handler() over
// HTTP as you like; call Close (or cancel ctx) to stop.
func Start(ctx context.Context, cfg Config, d Deps) (_ *Server, err error) {
	if d.NATS == nil {
		return nil, errors.New("api: Deps.NATS is required")
	}
	if cfg.MaxPayloadBytes <= 0 {
		cfg.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	js, err := bus.JetStream(d.NATS)
	if err != nil {
		return nil, fmt.Errorf("api: jetstream: %w", err)
	}
	retention := bus.DefaultRetention
	if cfg.Retention != nil {
		retention = *cfg.Retention
	}
	if err := bus.EnsureStreams(ctx, js, retention); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	kvs, err := bus.Buckets(ctx, js, events.BucketJobs, events.BucketEnvs, events.BucketQueues, events.BucketDefinitions,
		events.BucketPolicies, events.BucketResources, events.BucketRules, events.BucketSettings, events.BucketHosts)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	stream, err := js.Stream(ctx, events.StreamJobs)
	if err != nil {
		return nil, fmt.Errorf("api: open stream %s: %w", events.StreamJobs, err)
	}
	dlq, err := js.Stream(ctx, events.StreamDeadLetters)
	if err != nil {
		return nil, fmt.Errorf("api: open stream %s: %w", events.StreamDeadLetters, err)
	}
	logs, err := js.Stream(ctx, events.StreamLogs)
	if err != nil {
		return nil, fmt.Errorf("api: open stream %s: %w", events.StreamLogs, err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Server{
		cfg: cfg, log: log.With("service", "api"), nc: d.NATS, js: js, jobsKV: kvs[events.BucketJobs], jobsStream: stream,
		envs:      newKVCache[batch.ComputeEnvironmentDetail](kvs[events.BucketEnvs]),
		hosts:     newKVCache[events.Host](kvs[events.BucketHosts]),
		queues:    newKVCache[batch.JobQueueDetail](kvs[events.BucketQueues]),
		policies:  newKVCache[batch.SchedulingPolicyDetail](kvs[events.BucketPolicies]),
		resources: newKVCache[resourceRecord](kvs[events.BucketResources]),
		defs:      newDefStore(kvs[events.BucketDefinitions]),
		rules:     newKVCache[batch.NotificationRule](kvs[events.BucketRules]),
		dlq:       dlq,
		logs:      &logReader{stream: logs},
		settings:  kvs[events.BucketSettings],
		index:     newJobIndex(),
		metrics:   d.Metrics,
		now:       time.Now,
		natsSem:   make(chan struct{}, natsConcurrency),
		cancel:    cancel,
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	s.ops = s.operations()
	s.byPath = make(map[string]*operation, len(s.ops))
	names := make([]string, 0, len(s.ops))
	for _, o := range s.ops {
		if cfg.Auth != nil {
			o.authorize = s.authorize
		}
		s.byPath[strings.ToLower(o.name)] = o
		names = append(names, o.name)
	}
	s.opNames = strings.Join(names, ", ")
	s.logsOps = s.logsOperations()

	for _, w := range []interface {
		watch(context.Context, *nats.Conn, *sync.WaitGroup, *slog.Logger) error
		waitReady(context.Context) error
	}{s.envs, s.queues, s.defs, s.policies, s.resources, s.rules, s.hosts} {
		if err := w.watch(runCtx, d.NATS, &s.watchers, s.log); err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
		wctx, wcancel := context.WithTimeout(ctx, loadTimeout)
		err := w.waitReady(wctx)
		wcancel()
		if err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
	}
	if err := s.index.watch(runCtx, d.NATS, s.jobsKV, &s.watchers, s.log); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	if !cfg.NoDashboard {
		dc := dashboard.Config{TraceURL: cfg.TraceURL}
		if cfg.Auth != nil {
			dc.Guard = dashGuard{cfg.Auth}
		}
		s.dash = dashboard.New(dc, dashSource{s}, js, s.log)
		s.dash.Start(runCtx)
	}
	if s.metricsReg, err = s.registerMetrics(); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	if cfg.DefaultEnvironment != nil {
		if err := s.createDefaults(ctx, *cfg.DefaultEnvironment); err != nil {
			return nil, err
		}
	}
	if s.svc, err = s.startNATS(runCtx); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	// The service stops when the caller's ctx ends, not only on Close.
	context.AfterFunc(ctx, s.Close)
	s.log.Info("api started", "nats", events.APISubject("*"), "operations", len(s.ops))
	if cfg.Auth == nil {
		s.log.Warn("the API is open: no authentication, every caller may do everything (start batchd with --auth FILE to require SigV4 signatures and policies)")
	} else {
		s.log.Info("the API requires authentication", "credentials", len(cfg.Auth.Users()))
	}
	return s, nil
}

// Close stops the NATS service (waiting for the requests in hand) and the
// bucket watches. It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		if s.svc != nil {
			if err := s.svc.Stop(); err != nil {
				s.log.Warn("stop micro service", "err", err)
			}
		}
		s.natsMu.Lock()
		s.natsClosed = true
		s.natsMu.Unlock()
		s.natsWG.Wait()
		if s.dash != nil {
			s.dash.Close()
		}
		if s.metricsReg != nil {
			_ = s.metricsReg.Unregister()
		}
		s.cancel()
		s.watchers.Wait()
	})
}

// defaultsMarker is the settings key that records that the defaults were
// created once, so that a default a user deleted stays deleted.
const defaultsMarker = "defaults-created"

// createDefaults creates the default compute environment and queue the
// first time a deployment starts. Later starts leave them as the users
// left them, deleted included.
func (s *Server) createDefaults(ctx context.Context, d DefaultEnvironment) error {
	if d.MaxvCpus <= 0 {
		return fmt.Errorf("api: default compute environment %s: maxvCpus must be at least 1, not %d", d.Name, d.MaxvCpus)
	}
	if _, err := s.settings.Get(ctx, defaultsMarker); err == nil {
		return nil
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("api: read %s: %w", defaultsMarker, err)
	}
	if err := s.createDefaultResources(ctx, d); err != nil {
		return err
	}
	// Create, not Put: replicas starting together all create the same
	// (already existing) resources and one of them records the marker.
	if _, err := s.settings.Create(ctx, defaultsMarker, []byte(time.Now().UTC().Format(time.RFC3339))); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("api: record %s: %w", defaultsMarker, err)
	}
	return nil
}

// createDefaultResources creates the default compute environment and queue
// unless they exist.
func (s *Server) createDefaultResources(ctx context.Context, d DefaultEnvironment) error {
	ce, err := newComputeEnvironment(&batch.CreateComputeEnvironmentInput{
		ComputeEnvironmentName: d.Name, Type: ceManaged, State: stateEnabled,
		ComputeResources: &batch.ComputeResource{Type: "EC2", MaxvCpus: d.MaxvCpus},
	}, newUUID())
	if err != nil {
		return fmt.Errorf("api: default compute environment: %w", err)
	}
	created, err := s.envs.create(ctx, ce.ComputeEnvironmentName, ce)
	if err != nil {
		return fmt.Errorf("api: default compute environment: %w", err)
	}
	if created {
		s.log.Info("default compute environment created", "name", d.Name, "maxvCpus", d.MaxvCpus)
	}
	if d.Queue == "" {
		return nil
	}
	if err := checkName("default job queue name", d.Queue); err != nil {
		return fmt.Errorf("api: %w", err)
	}
	q := &batch.JobQueueDetail{
		JobQueueName: d.Queue, JobQueueArn: batch.ARN(batch.KindJobQueue, d.Queue),
		State: stateEnabled, Status: statusValid, StatusReason: "JobQueue Healthy", Priority: 1, JobQueueType: "ECS",
		ComputeEnvironmentOrder: []batch.ComputeEnvironmentOrder{{Order: 1, ComputeEnvironment: ce.ComputeEnvironmentArn}},
	}
	created, err = s.queues.create(ctx, q.JobQueueName, q)
	if err != nil {
		return fmt.Errorf("api: default job queue: %w", err)
	}
	if created {
		s.log.Info("default job queue created", "name", d.Queue, "computeEnvironment", d.Name)
	}
	return nil
}
