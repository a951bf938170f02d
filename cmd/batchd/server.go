package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/batchd/batchd/pkg/natsauth"
	"github.com/batchd/batchd/pkg/telemetry"
	"github.com/batchd/batchd/services/api"
	"github.com/batchd/batchd/services/api/auth"
	"github.com/batchd/batchd/services/launcher"
	"github.com/batchd/batchd/services/monitor"
	"github.com/batchd/batchd/services/notifier"
	"github.com/batchd/batchd/services/scheduler"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"
)

// newLogger logs to w at the given level, as text (key=value) or JSON
// lines; a line logged with a span's context carries its trace_id and
// span_id.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: l}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(telemetry.NewLogHandler(h))
}

// startNATS embeds a NATS server with JetStream stored under the data
// folder; closed, when set, is the configuration of a closed deployment
// (--auth): accounts, users and permissions.
func startNATS(c config, log *slog.Logger, closed *natsauth.Server) (*server.Server, error) {
	host, portStr, err := net.SplitHostPort(c.natsAddr)
	if err != nil {
		return nil, fmt.Errorf("--nats %q: %w", c.natsAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("--nats port %q: %w", portStr, err)
	}
	opts := &server.Options{ServerName: "batchd", Host: host, Port: port, JetStream: true,
		StoreDir: filepath.Join(c.dataDir, "jetstream"), NoSigs: true, NoLog: true, MaxPayload: 8 << 20}
	if closed != nil {
		closed.Name, closed.Host, closed.Port, closed.StoreDir, closed.MaxPayload = opts.ServerName, host, port, opts.StoreDir, int(opts.MaxPayload)
		if opts, err = closedOptions(c.dataDir, *closed); err != nil {
			return nil, err
		}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("embedded nats: not ready on %s (is the port in use?)", c.natsAddr)
	}
	log.Info("embedded NATS server ready", "url", ns.ClientURL(), "store", opts.StoreDir)
	return ns, nil
}

// launcherHostIDs are the host ids of this process's launchers: the host's
// own, or with --runtime sim one per simulated host.
func launcherHostIDs(id string, c config) []string {
	if c.runtime != launcher.RuntimeSim {
		return []string{id}
	}
	ids := make([]string, c.simHosts)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-sim-%02d", id, i+1)
	}
	return ids
}

// natsOptions are the connection options of every service: reconnect for
// ever, to any server of the cluster, with jitter so that the clients of a
// lost server do not all come back at once; notice a silent server within
// a few seconds (pings); and start even when no server answers yet.
func natsOptions(name string, log *slog.Logger) []nats.Option {
	return []nats.Option{nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second), nats.RetryOnFailedConnect(true),
		nats.PingInterval(2 * time.Second), nats.MaxPingsOutstanding(3),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "client", name, "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "client", name, "url", nc.ConnectedUrl()) }),
	}
}

// run runs the services c selects until ctx ends. metrics, when set, is
// served at /metrics on the HTTP API's port.
func run(ctx context.Context, c config, log *slog.Logger, metrics http.Handler) error {
	if err := os.MkdirAll(c.dataDir, 0o755); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	if c.pprofAddr != "" {
		if err := servePprof(ctx, c.pprofAddr, log); err != nil {
			return err
		}
	}
	authn, err := loadAuth(c)
	if err != nil {
		return err
	}
	var hostIDs []string
	if c.runs("launcher") || (authn != nil && c.natsURL == "") {
		id, err := hostID(c.dataDir)
		if err != nil {
			return err
		}
		hostIDs = launcherHostIDs(id, c)
	}
	users, closed, err := natsUsers(c, authn, hostIDs)
	if err != nil {
		return err
	}
	url := c.natsURL
	if url == "" {
		ns, err := startNATS(c, log, closed)
		if err != nil {
			return err
		}
		defer ns.Shutdown()
		url = ns.ClientURL()
	}
	// connect opens a service's own connection, as its NATS user when the
	// deployment is closed.
	connect := func(name, user string) (*nats.Conn, error) {
		opts := natsOptions("batchd-"+name, log)
		if users != nil {
			if users[user] == "" {
				return nil, fmt.Errorf("no NATS credentials for user %s in %s", user, filepath.Join(c.dataDir, natsauth.CredentialsFile))
			}
			opts = append(opts, nats.UserInfo(user, users[user]))
		}
		return nats.Connect(url, opts...)
	}

	g, gctx := errgroup.WithContext(ctx)
	startAs := func(name, user string, fn func(context.Context, *nats.Conn) error) error {
		nc, err := connect(name, user)
		if err != nil {
			return fmt.Errorf("%s: connect: %w", name, err)
		}
		g.Go(func() error {
			defer nc.Close()
			if err := fn(gctx, nc); err != nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		})
		return nil
	}
	start := func(name string, fn func(context.Context, *nats.Conn) error) error {
		return startAs(name, name, fn)
	}
	if c.runs("monitor") {
		if err := start("monitor", func(ctx context.Context, nc *nats.Conn) error {
			mcfg := monitor.DefaultConfig()
			mcfg.JobRetention = c.retention
			mcfg.BlockedAfter = c.blockedAfter
			return monitor.Run(ctx, mcfg, monitor.Deps{NATS: nc, Logger: log})
		}); err != nil {
			return err
		}
	}
	if c.runs("scheduler") {
		if err := start("scheduler", func(ctx context.Context, nc *nats.Conn) error {
			scfg := scheduler.DefaultConfig()
			scfg.HostLostAfter = c.hostLost
			return scheduler.Run(ctx, scfg, scheduler.Deps{NATS: nc, Logger: log})
		}); err != nil {
			return err
		}
	}
	if c.runs("launcher") {
		uri := c.podmanURI
		if uri == "" {
			uri = launcher.DefaultPodmanURI()
		}
		if c.runtime == launcher.RuntimePodman {
			if err := launcher.EnsurePodmanService(ctx, uri, log); err != nil {
				return err
			}
		}
		name, _ := os.Hostname()
		for _, hid := range hostIDs {
			lcfg := launcher.Config{HostID: hid, HostName: name, VCPUs: c.hostVCPUs, MemoryMiB: c.hostMemMiB,
				GPUs: max(c.hostGPUs, 0), DiscoverGPUs: c.hostGPUs < 0 && c.runtime == launcher.RuntimePodman,
				Network: c.network, HostAddress: c.hostAddr, Runtime: c.runtime, PodmanURI: uri, SimImages: c.simImages, InsecureRegistries: c.insecure,
				StopGrace: c.stopGrace,
				CPULimit:  c.cpuLimit, EFSVolumes: c.efsVolumes}
			if err := startAs("launcher", natsauth.LauncherUser(hid), func(ctx context.Context, nc *nats.Conn) error {
				return launcher.Run(ctx, lcfg, launcher.Deps{NATS: nc, Logger: log})
			}); err != nil {
				return err
			}
		}
	}
	if c.runs("notifier") {
		ncfg := notifier.DefaultConfig()
		ncfg.Attempts, ncfg.Backoff, ncfg.MaxBackoff = c.notifyAttempts, c.notifyBackoff, c.notifyBackoffMax
		ncfg.Timeout, ncfg.Concurrency = c.notifyTimeout, c.notifyConcurrency
		if err := start("notifier", func(ctx context.Context, nc *nats.Conn) error {
			return notifier.Run(ctx, ncfg, notifier.Deps{NATS: nc, Logger: log})
		}); err != nil {
			return err
		}
	}
	if c.runs("api") {
		retention := c.streamRetention()
		acfg := api.Config{HTTPAddr: c.httpAddr, Retention: &retention, Auth: authn, AllowPrivileged: c.allowPrivileged,
			EFSVolumes: c.efsVolumes, NoDashboard: !c.dashboard, TraceURL: c.traceURL}
		if c.defaults {
			acfg.DefaultEnvironment = &api.DefaultEnvironment{Name: "default", Queue: "default",
				MaxvCpus: int(math.Ceil(c.hostVCPUs * float64(c.simHosts)))}
		}
		if err := start("api", func(ctx context.Context, nc *nats.Conn) error {
			return api.Run(ctx, acfg, api.Deps{NATS: nc, Logger: log, Metrics: metrics})
		}); err != nil {
			return err
		}
		log.Info("batchd serving", "http", "http://"+c.httpAddr, "nats", url)
		if c.dashboard {
			log.Info("dashboard", "url", "http://"+c.httpAddr+"/")
		}
	}
	return g.Wait()
}

// loadAuth reads the --auth credentials file (nil without --auth).
func loadAuth(c config) (*auth.Authenticator, error) {
	if c.authFile == "" {
		return nil, nil
	}
	a, err := auth.LoadFile(c.authFile, auth.Options{Regions: c.authRegions, Known: api.KnownAction})
	if err != nil {
		return nil, fmt.Errorf("--auth: %w", err)
	}
	return a, nil
}
