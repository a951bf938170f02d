package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/services/monitor"
	"github.com/batchd/batchd/services/notifier"
	"github.com/batchd/batchd/services/scheduler"
)

// allServices are the services batchd runs by default.
var allServices = []string{"api", "scheduler", "monitor", "launcher", "notifier"}

type config struct {
	dataDir    string
	httpAddr   string
	natsAddr   string
	natsURL    string // comma-separated server URLs
	replicas   int
	services   []string
	hostVCPUs  float64
	hostMemMiB int64
	hostGPUs   int
	insecure   []string
	podmanURI  string
	runtime    string
	simHosts   int
	simImages  []string
	network    string
	hostAddr   string
	logLevel   string
	logFormat  string
	defaults   bool
	pprofAddr  string
	stopGrace  time.Duration
	hostLost   time.Duration
	memLimit   int64 // MiB; 0: none
	gcPercent  int   // Go GC target (SetGCPercent)
	retention  time.Duration
	// authFile is the credentials file of --auth ("" leaves the API open).
	authFile    string
	authRegions []string
	// allowPrivileged allows privileged containers and host devices with --auth.
	allowPrivileged bool
	cpuLimit        string
	efsVolumes      efsFlag
	dashboard       bool
	traceURL        string

	eventRetention    time.Duration
	blockedAfter      time.Duration
	notifyAttempts    int
	notifyBackoff     time.Duration
	notifyBackoffMax  time.Duration
	notifyTimeout     time.Duration
	notifyConcurrency int
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("batchd", flag.ContinueOnError)
	fs.StringVar(&c.dataDir, "data", defaultDataDir(), "folder for the embedded JetStream store and the host id")
	fs.StringVar(&c.httpAddr, "http", "127.0.0.1:8420", "address of the HTTP API (AWS Batch REST)")
	fs.StringVar(&c.natsAddr, "nats", "127.0.0.1:4222", "client address of the embedded NATS server")
	fs.StringVar(&c.natsURL, "nats-url", "", "use this NATS cluster instead of embedding a server: its servers' URLs, comma-separated")
	fs.IntVar(&c.replicas, "stream-replicas", 1, "servers of the NATS cluster that keep a copy of every stream and bucket (1-5; set by the api, which creates and updates them)")
	services := fs.String("services", strings.Join(allServices, ","), "services to run: "+strings.Join(allServices, ","))
	fs.Float64Var(&c.hostVCPUs, "host-vcpus", float64(goruntime.NumCPU()), "vCPUs this host's launcher advertises (may over-commit)")
	fs.Int64Var(&c.hostMemMiB, "host-memory", hostMemoryMiB(), "memory in MiB this host's launcher advertises")
	fs.IntVar(&c.hostGPUs, "host-gpus", -1, "GPUs this host's launcher advertises, named nvidia.com/gpu=0 ... N-1 (-1: the nvidia.com/gpu devices of the CDI specs in /etc/cdi and /var/run/cdi; none with --runtime sim)")
	insecure := fs.String("insecure-registries", "", "comma-separated registries (host or host:port, as in image names) that job images are pulled from without TLS verification, plain HTTP included")
	fs.StringVar(&c.podmanURI, "podman-url", "", "Podman API socket (default: CONTAINER_HOST or unix:///run/podman/podman.sock)")
	fs.StringVar(&c.runtime, "runtime", "podman", "container engine of the launcher: podman, or sim (simulated containers that interpret their command's sh: `sleep N` lasts N seconds, `exit 3` exits 3; for scale tests)")
	fs.IntVar(&c.simHosts, "sim-hosts", 1, "with --runtime sim: launchers (hosts) to simulate in this process, each advertising --host-vcpus and --host-memory, host ids <host-id>-sim-<n>")
	simImages := fs.String("sim-images", "", "with --runtime sim: comma-separated images the simulated hosts have (empty: every image)")
	fs.StringVar(&c.network, "network", "host", "network mode of job containers: host, bridge or none")
	fs.StringVar(&c.hostAddr, "host-address", "", "address this host's launcher advertises: the nodes of a multi-node job on other hosts reach its main node there (default: the host's first non-loopback IPv4, else 127.0.0.1)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "text", "text (key=value) or json")
	fs.BoolVar(&c.defaults, "defaults", true, "create the default compute environment and job queue")
	fs.BoolVar(&c.dashboard, "dashboard", true, "serve the web dashboard at / on the HTTP address")
	fs.StringVar(&c.traceURL, "trace-url", "", `link the dashboard's trace ids to a trace viewer; {traceId} is replaced, e.g. "http://jaeger:16686/trace/{traceId}"`)
	fs.StringVar(&c.pprofAddr, "pprof", "", "serve Go's pprof profiles on this address, e.g. 127.0.0.1:6060 (off when empty)")
	fs.DurationVar(&c.retention, "job-retention", 0, "delete the records of jobs finished longer ago than this (0: keep them for ever), e.g. 168h")
	fs.Int64Var(&c.memLimit, "memory-limit", 900, "soft limit in MiB of batchd's Go heap (the garbage collector works harder near it; GOMEMLIMIT wins when set); 0: none")
	fs.IntVar(&c.gcPercent, "gc-percent", 200, "Go's garbage collection target: the heap grows by this percentage of the live heap between collections (GOGC wins when set); --memory-limit still bounds it")
	fs.DurationVar(&c.hostLost, "host-lost-after", scheduler.DefaultHostLostAfter, "a host silent this long (no heartbeat) is lost: its STARTING and RUNNING attempts fail with \"Host EC2 (instance <host>) terminated.\" and are retried per their retry strategy")
	fs.StringVar(&c.cpuLimit, "cpu-limit", "shares", "how a job's vCPUs limit its container: shares (as AWS: 1024 CPU shares per vCPU, idle CPU may be used) or quota (a hard CFS quota of vCPU cores)")
	c.efsVolumes = efsFlag{}
	fs.Var(c.efsVolumes, "efs-volume", "EFS file system id=host folder (repeatable): jobs' efsVolumeConfiguration volumes of that id mount the folder (for example an NFS export mounted there); other ids are refused")
	fs.DurationVar(&c.stopGrace, "stop-grace", 30*time.Second, "time a stopped job container (terminated or timed out) gets between SIGTERM and SIGKILL")
	fs.DurationVar(&c.eventRetention, "event-retention", bus.DefaultRetention.Events, "how long job events (and undelivered notifications) are kept; 0 keeps them for ever (set by the api, which creates and updates the streams)")
	fs.DurationVar(&c.blockedAfter, "blocked-after", monitor.DefaultConfig().BlockedAfter, `announce a job waiting RUNNABLE or PENDING this long ("Batch Job Queue Blocked"); 0 turns it off`)
	nd := notifier.DefaultConfig()
	fs.IntVar(&c.notifyAttempts, "notify-attempts", nd.Attempts, "delivery attempts of a notification before it goes to the dead-letter stream")
	fs.DurationVar(&c.notifyBackoff, "notify-backoff", nd.Backoff, "wait before the first retry of a notification; doubles each retry")
	fs.DurationVar(&c.notifyBackoffMax, "notify-backoff-max", nd.MaxBackoff, "longest wait between two attempts of a notification")
	fs.DurationVar(&c.notifyTimeout, "notify-timeout", nd.Timeout, "time limit of one delivery attempt")
	fs.IntVar(&c.notifyConcurrency, "notify-concurrency", nd.Concurrency, "notifications of one target in flight at once (1 keeps them in event order)")
	fs.StringVar(&c.authFile, "auth", "", "credentials file (JSON list of {accessKeyId, secretAccessKey, policy}): require SigV4-signed requests allowed by each key's IAM policy (docs/operations.md, Security); empty leaves the API open")
	fs.BoolVar(&c.allowPrivileged, "allow-privileged", false, "with --auth: allow job definitions with privileged containers, host devices (linuxParameters.devices) or host folders (volumes[].host.sourcePath); without --auth they are always allowed, as AWS allows them")
	regions := fs.String("auth-regions", "us-east-1", "with --auth: the regions a request's signature may be scoped to, comma separated")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	for _, s := range strings.Split(*services, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(allServices, s) {
			return c, fmt.Errorf("--services: unknown service %q (known: %s)", s, strings.Join(allServices, ", "))
		}
		c.services = append(c.services, s)
	}
	for _, r := range strings.Split(*regions, ",") {
		if r = strings.TrimSpace(r); r != "" {
			c.authRegions = append(c.authRegions, r)
		}
	}
	if len(c.services) == 0 {
		return c, errors.New("--services: no service selected")
	}
	if c.runtime != "podman" && c.runtime != "sim" {
		return c, fmt.Errorf("--runtime %q: want podman or sim", c.runtime)
	}
	if c.simHosts < 1 || (c.simHosts > 1 && c.runtime != "sim") {
		return c, errors.New("--sim-hosts must be at least 1, and above 1 only with --runtime sim")
	}
	for _, img := range strings.Split(*simImages, ",") {
		if img = strings.TrimSpace(img); img != "" {
			c.simImages = append(c.simImages, img)
		}
	}
	if len(c.simImages) > 0 && c.runtime != "sim" {
		return c, errors.New("--sim-images needs --runtime sim")
	}
	if c.natsURL != "" {
		var urls []string
		for _, u := range strings.Split(c.natsURL, ",") {
			if u = strings.TrimSpace(u); u != "" {
				urls = append(urls, u)
			}
		}
		if len(urls) == 0 {
			return c, errors.New("--nats-url: no server URL")
		}
		c.natsURL = strings.Join(urls, ",")
	}
	if c.replicas < 1 || c.replicas > 5 {
		return c, errors.New("--stream-replicas must be between 1 and 5")
	}
	if c.replicas > 1 && c.natsURL == "" {
		return c, errors.New("--stream-replicas above 1 needs a NATS cluster (--nats-url); the embedded server is a single one")
	}
	if c.retention < 0 {
		return c, errors.New("--job-retention must not be negative")
	}
	if c.memLimit < 0 {
		return c, errors.New("--memory-limit must not be negative")
	}
	if c.gcPercent < 1 {
		return c, errors.New("--gc-percent must be at least 1")
	}
	if c.hostLost < bus.HostTTL {
		return c, fmt.Errorf("--host-lost-after must be at least the host heartbeat TTL (%v)", bus.HostTTL)
	}
	if c.cpuLimit != "shares" && c.cpuLimit != "quota" {
		return c, fmt.Errorf("--cpu-limit %q: want shares or quota", c.cpuLimit)
	}
	if c.stopGrace <= 0 {
		return c, errors.New("--stop-grace must be positive")
	}
	for _, r := range strings.Split(*insecure, ",") {
		if r = strings.TrimSpace(r); r != "" {
			c.insecure = append(c.insecure, r)
		}
	}
	if c.hostGPUs < -1 {
		return c, errors.New("--host-gpus must be -1 (discover) or a number of GPUs")
	}
	if c.hostVCPUs <= 0 || c.hostMemMiB <= 0 {
		return c, errors.New("--host-vcpus and --host-memory must be positive")
	}
	if c.eventRetention < 0 || c.blockedAfter < 0 {
		return c, errors.New("--event-retention and --blocked-after must not be negative")
	}
	if c.notifyAttempts < 1 || c.notifyBackoff <= 0 || c.notifyBackoffMax < c.notifyBackoff || c.notifyTimeout <= 0 || c.notifyConcurrency < 1 {
		return c, errors.New("--notify-attempts and --notify-concurrency must be at least 1, --notify-backoff and --notify-timeout positive, --notify-backoff-max at least --notify-backoff")
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.logLevel)); err != nil {
		return c, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	if c.traceURL != "" && !strings.Contains(c.traceURL, "{traceId}") {
		return c, fmt.Errorf("--trace-url %q: put {traceId} where the trace id goes, e.g. http://jaeger:16686/trace/{traceId}", c.traceURL)
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		return c, fmt.Errorf("--log-format %q: want text or json", c.logFormat)
	}
	return c, nil
}

func (c config) runs(service string) bool { return slices.Contains(c.services, service) }

// streamRetention is what every service keeps in the streams, and on how
// many servers (they must agree: each one ensures the streams at start).
func (c config) streamRetention() bus.Retention {
	r := bus.DefaultRetention
	r.Events, r.Notifications = c.eventRetention, c.eventRetention
	r.Replicas = c.replicas
	return r
}

func defaultDataDir() string {
	if d := os.Getenv("BATCHD_DATA"); d != "" {
		return d
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "batchd")
	}
	return "batchd-data"
}

// hostMemoryMiB reads MemTotal from /proc/meminfo.
func hostMemoryMiB() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 1024
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return 1024
}

// efsFlag collects --efs-volume id=/folder.
type efsFlag map[string]string

func (f efsFlag) String() string {
	parts := make([]string, 0, len(f))
	for _, id := range slices.Sorted(maps.Keys(f)) {
		parts = append(parts, id+"="+f[id])
	}
	return strings.Join(parts, ",")
}

func (f efsFlag) Set(v string) error {
	id, dir, ok := strings.Cut(v, "=")
	if !ok || id == "" || !filepath.IsAbs(dir) {
		return fmt.Errorf("want <file system id>=<absolute host folder>, for example fs-12345678=/mnt/efs/data")
	}
	f[id] = filepath.Clean(dir)
	return nil
}
