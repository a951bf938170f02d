package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// bench holds what the phases share.
type bench struct {
	cfg  config
	srv  *server
	cl   *client
	rec  *recorder
	pm   *podmanAPI
	res  *result
	logw io.Writer
	held int // jobs submitted to queue bench-hold
	// profiled, when set, is the batchd the profiles are taken of instead
	// of srv (a phase with a deployment of its own).
	profiled atomic.Pointer[server]
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.logw, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// run measures everything; the result holds what was measured even when a
// later phase fails.
func run(ctx context.Context, cfg config, logw io.Writer) (*result, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	b := &bench{cfg: cfg, res: newResult(cfg), logw: logw, pm: newPodmanAPI(cfg.podmanSock)}

	scratch := cfg.scratch
	if scratch == "" {
		d, err := os.MkdirTemp("", "batchbench-")
		if err != nil {
			return nil, err
		}
		scratch = d
		if !cfg.keep {
			defer os.RemoveAll(scratch)
		}
	}
	bin := cfg.batchdBin
	if bin == "" {
		repo := cfg.repo
		if repo == "" {
			wd, _ := os.Getwd()
			r, err := findRepo(wd)
			if err != nil {
				return nil, err
			}
			repo = r
		}
		bin = filepath.Join(scratch, "batchd")
		b.logf("building batchd from %s", repo)
		if err := buildBatchd(ctx, repo, bin); err != nil {
			return nil, err
		}
	}
	b.logf("starting batchd (scratch %s, %d vCPUs advertised)", scratch, cfg.concurrency)
	srv, err := startServer(ctx, bin, filepath.Join(scratch, "data"), cfg.concurrency)
	if err != nil {
		return nil, err
	}
	b.srv = srv
	defer func() {
		host := srv.hostID()
		b.pm.cleanUp(host, false)
		srv.stop()
		b.pm.cleanUp(host, true)
		if cfg.keep {
			b.logf("kept %s (batchd.log in data/)", scratch)
		}
	}()
	if b.cl, err = newClient(srv); err != nil {
		return nil, err
	}
	defer b.cl.close()
	if cfg.profileDir != "" {
		if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
			return nil, err
		}
		b.logf("pprof of batchd: http://%s/debug/pprof/ (profiles of each phase go to %s)", srv.pprofAddr, cfg.profileDir)
	}
	if b.rec, err = newRecorder(b.cl.nc, queueWarm, queueSched, queueLatency, queueE2E); err != nil {
		return nil, err
	}
	if err := b.cl.setup(ctx, cfg); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	b.res.LoadStart = loadAvg()

	phases := []struct {
		key, name string
		fn        func(context.Context) error
	}{
		{"warm-up", "warm-up", b.warmUp},
		{"placement", "placement without backlog", b.schedIdle},
		{"latency", "runnable to running", b.latency},
		{"e2e", "end to end vs podman", b.e2e},
		{"submission", "submission", b.submit},
		{"backlog", "backlog", b.backlog},
		{"failover", "scheduler failover", b.failover},
		{"lifecycle", "control-plane lifecycle, simulated hosts", b.lifecycle},
		{"backlog-record", "recording a backlog", b.backlogRecord},
	}
	for _, p := range phases {
		if len(cfg.phases) > 0 && !slices.Contains(cfg.phases, p.key) {
			continue
		}
		b.logf("phase: %s", p.name)
		stopProfile := b.profilePhase(ctx, p.name)
		err := p.fn(ctx)
		stopProfile()
		if err != nil {
			if !srv.alive() {
				err = fmt.Errorf("%w\nbatchd exited; its log ends:\n%s", err, srv.tail())
			}
			return b.res, fmt.Errorf("%s: %w", p.name, err)
		}
	}
	b.res.LoadEnd = loadAvg()
	return b.res, nil
}

// machine describes this host for the report.
func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		f := strings.Fields(string(b))
		if len(f) > 1 {
			var kb float64
			fmt.Sscan(f[1], &kb)
			mem = fmt.Sprintf("%.0f GiB", kb/1024/1024)
		}
	}
	return fmt.Sprintf("%d CPUs (%s), %s RAM, Linux %s, Podman %s, %s", goruntime.NumCPU(), model, mem, kernel, podmanVersion(), goruntime.Version())
}

var errJobFailed = errors.New("a bench job failed")
