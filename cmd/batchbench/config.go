package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"
)

type config struct {
	quick      bool
	jsonOut    bool
	repo       string // repository root (holds go.work and cmd/batchd)
	batchdBin  string // a built batchd to use instead of building one
	scratch    string // data folder; empty: a new temporary folder
	keep       bool   // keep the scratch folder
	image      string
	timeout    time.Duration
	podmanSock string
	profileDir string   // CPU profiles of batchd per phase
	phases     []string // run only these phases (empty: all)

	concurrency   int // e2e and latency: jobs (1 vCPU each) at once
	e2eJobs       int
	submitJobs    int // per transport
	submitClients int
	queued        int // backlog for queued_rss_mib and sched_slowdown
	latencyJobs   int
	latencySleep  time.Duration
	schedSamples  int
	lifecycleJobs int // lifecycle_jobs_per_s
}

// sizes of a full run and of --quick.
var (
	fullSizes  = config{concurrency: 2, e2eJobs: 500, submitJobs: 20000, submitClients: 256, queued: 100000, latencyJobs: 40, latencySleep: time.Second, schedSamples: 15, lifecycleJobs: 20000}
	quickSizes = config{concurrency: 2, e2eJobs: 30, submitJobs: 4000, submitClients: 256, queued: 10000, latencyJobs: 12, latencySleep: time.Second, schedSamples: 7, lifecycleJobs: 2000}
)

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("batchbench", flag.ContinueOnError)
	fs.BoolVar(&c.quick, "quick", false, "smaller sizes that finish in under 3 minutes (the figures say so)")
	fs.BoolVar(&c.jsonOut, "json", false, "print one JSON object with every figure on standard output (the table goes to standard error)")
	fs.StringVar(&c.repo, "repo", "", "repository root to build batchd from (default: found from the working directory)")
	fs.StringVar(&c.batchdBin, "batchd", "", "use this batchd binary instead of building ./cmd/batchd")
	fs.StringVar(&c.scratch, "scratch", "", "scratch folder for batchd's data (default: a new temporary folder, removed at the end)")
	fs.BoolVar(&c.keep, "keep", false, "keep the scratch folder (batchd.log, the JetStream store)")
	fs.StringVar(&c.image, "image", "localhost/batch-sample:latest", "local image of the trivial containers (must have true and sleep)")
	fs.StringVar(&c.podmanSock, "podman-socket", "/run/podman/podman.sock", "Podman API socket (batchd's launcher uses it; the bench inspects containers there)")
	fs.StringVar(&c.profileDir, "profile", "", "write CPU profiles of batchd for each phase into this folder (5 s each: go tool pprof -top DIR/e2e-*.pprof)")
	fs.DurationVar(&c.timeout, "timeout", 60*time.Minute, "give up after this long")
	phases := fs.String("phases", "", "run only these phases, comma-separated, e.g. warm-up,failover (default: all)")
	concurrency := fs.Int("concurrency", 0, "1-vCPU jobs at once in the e2e and latency phases, for batchd and for bare podman (default 2: one per core)")
	e2e := fs.Int("e2e-jobs", 0, "trivial containers run through batchd and through bare podman (default 500; quick 30)")
	submit := fs.Int("submit-jobs", 0, "jobs submitted over each of NATS and HTTP for the submission rates (default 20000; quick 4000)")
	clients := fs.Int("submit-clients", 0, "concurrent SubmitJob callers (default 256)")
	queued := fs.Int("queued", 0, "queued jobs for queued_rss_mib and sched_slowdown (default 100000; quick 10000)")
	lat := fs.Int("latency-jobs", 0, "jobs of the runnable-to-running phase (default 40; quick 12)")
	life := fs.Int("lifecycle-jobs", 0, "jobs of the control-plane lifecycle phase, on 16 simulated hosts (default 20000; quick 2000)")
	samples := fs.Int("sched-samples", 0, "single jobs placed with and without the backlog (default 15; quick 7)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	for _, p := range strings.Split(*phases, ",") {
		if p = strings.TrimSpace(p); p != "" {
			c.phases = append(c.phases, p)
		}
	}
	base := fullSizes
	if c.quick {
		base = quickSizes
	}
	pick := func(v, d int) int {
		if v > 0 {
			return v
		}
		return d
	}
	c.concurrency = pick(*concurrency, base.concurrency)
	c.e2eJobs = pick(*e2e, base.e2eJobs)
	c.submitJobs = pick(*submit, base.submitJobs)
	c.submitClients = pick(*clients, base.submitClients)
	c.queued = pick(*queued, base.queued)
	c.latencyJobs = pick(*lat, base.latencyJobs)
	c.latencySleep = base.latencySleep
	c.schedSamples = pick(*samples, base.schedSamples)
	c.lifecycleJobs = pick(*life, base.lifecycleJobs)
	if c.latencyJobs <= c.concurrency {
		return c, errors.New("--latency-jobs must exceed --concurrency, so that some jobs wait for capacity")
	}
	return c, nil
}

// isFull reports whether the sizes are the defaults of a full run.
func (c config) isFull() bool {
	return !c.quick && len(c.phases) == 0 && c.concurrency == fullSizes.concurrency && c.e2eJobs == fullSizes.e2eJobs &&
		c.submitJobs == fullSizes.submitJobs && c.queued == fullSizes.queued
}
