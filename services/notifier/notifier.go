package notifier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/telemetry"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
)

// Config configures the notifier.
type Config struct {
	// Consumer is the durable consumer on BATCH_EVENTS shared by all
	// notifier replicas.
	Consumer string
	// Attempts is how many times a notification is tried before it goes
	// to the dead-letter stream.
	Attempts int
	// Backoff is the wait before the first retry; each retry waits twice
	// as long as the one before (with 20 % jitter), up to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Timeout bounds one delivery attempt (the webhook's answer, the NATS
	// publish).
	Timeout time.Duration
	// Concurrency is how many notifications of one target are in flight
	// at once, across replicas. 1 (the default) delivers each target's
	// notifications one after the other, in event order.
	Concurrency int
}

// DefaultConfig returns the configuration used by batchd.
func DefaultConfig() Config {
	return Config{Consumer: "notifier", Attempts: 5, Backoff: time.Second, MaxBackoff: time.Minute,
		Timeout: 10 * time.Second, Concurrency: 1}
}

// Deps are the notifier's connections.
type Deps struct {
	NATS   *nats.Conn
	Logger *slog.Logger
	Clock  func() time.Time
	// HTTP delivers webhooks; nil means a client that does not follow
	// redirects (each attempt is bounded by Config.Timeout).
	HTTP *http.Client
}

type notifier struct {
	cfg     Config
	log     *slog.Logger
	clock   func() time.Time
	nc      *nats.Conn
	js      jetstream.JetStream
	http    *http.Client
	rules   *ruleCache
	tracer  trace.Tracer
	metrics *metrics

	// ctx is Run's context, for background work.
	ctx context.Context

	streamsMu sync.Mutex
	streams   map[string]streamLookup // NATS target subject -> captured by a stream

	workersMu sync.Mutex
	workers   map[string]*worker // by consumer name
}

func (c *Config) fill() {
	d := DefaultConfig()
	if c.Consumer == "" {
		c.Consumer = d.Consumer
	}
	if c.Attempts <= 0 {
		c.Attempts = d.Attempts
	}
	if c.Backoff <= 0 {
		c.Backoff = d.Backoff
	}
	if c.MaxBackoff < c.Backoff {
		c.MaxBackoff = max(c.Backoff, d.MaxBackoff)
	}
	if c.Timeout <= 0 {
		c.Timeout = d.Timeout
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
}

// Run routes events to the notification rules that match them and
// delivers the notifications until ctx ends.
func Run(ctx context.Context, cfg Config, d Deps) error {
	if d.NATS == nil {
		return errors.New("notifier: Deps.NATS is required")
	}
	cfg.fill()
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Clock == nil {
		d.Clock = time.Now
	}
	if d.HTTP == nil {
		d.HTTP = &http.Client{CheckRedirect: noRedirects}
	}
	js, err := bus.JetStream(d.NATS)
	if err != nil {
		return fmt.Errorf("notifier: jetstream: %w", err)
	}
	if err := bus.AwaitStreams(ctx, js, d.Logger); err != nil {
		return fmt.Errorf("notifier: %w", err)
	}
	m, err := newMetrics()
	if err != nil {
		return fmt.Errorf("notifier: %w", err)
	}
	n := &notifier{cfg: cfg, log: d.Logger.With("service", "notifier"), clock: d.Clock, nc: d.NATS, js: js,
		http: d.HTTP, tracer: telemetry.Tracer("notifier"), metrics: m, workers: map[string]*worker{},
		streams: map[string]streamLookup{}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n.ctx = ctx
	var wg sync.WaitGroup
	defer wg.Wait()
	if n.rules, err = newRuleCache(ctx, js, n.log); err != nil {
		return fmt.Errorf("notifier: %w", err)
	}
	if err := n.rules.watch(ctx, &wg, n.reconcile); err != nil {
		return fmt.Errorf("notifier: %w", err)
	}
	n.log.Info("notifier started", "attempts", cfg.Attempts, "backoff", cfg.Backoff, "timeout", cfg.Timeout)
	err = n.route(ctx)
	cancel()
	n.stopWorkers()
	return err
}
