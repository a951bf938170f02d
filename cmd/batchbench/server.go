package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// defaultGoFlags are the build tags batchd needs (the Podman bindings build
// without cgo only with them); scripts/env.sh is read first.
const defaultGoFlags = "-tags=remote,containers_image_openpgp,exclude_graphdriver_btrfs"

// findRepo walks up from dir to the folder whose go.work uses ./cmd/batchd.
func findRepo(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.work")); err == nil && strings.Contains(string(b), "./cmd/batchd") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work with ./cmd/batchd above the working directory: run from the repository, or give --repo or --batchd")
		}
		dir = parent
	}
}

// goFlags reads GOFLAGS from scripts/env.sh, the one place the tags are set.
func goFlags(repo string) string {
	f, err := os.Open(filepath.Join(repo, "scripts", "env.sh"))
	if err != nil {
		return defaultGoFlags
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "export GOFLAGS="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	return defaultGoFlags
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// buildBatchd builds ./cmd/batchd of repo into out with batchd's build
// settings, whatever the environment of this command.
func buildBatchd(ctx context.Context, repo, out string) error {
	cmd := exec.CommandContext(ctx, goTool(), "build", "-o", out, "./cmd/batchd")
	cmd.Dir = repo
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOFLAGS=") && !strings.HasPrefix(kv, "CGO_ENABLED=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "CGO_ENABLED=0", "GOFLAGS="+goFlags(repo))
	b, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build ./cmd/batchd: %w\n%s", err, b)
	}
	return nil
}

// server is the batchd child process under measurement.
type server struct {
	cmd       *exec.Cmd
	data      string
	httpAddr  string
	natsAddr  string
	pprofAddr string
	logPath   string
	done      chan struct{}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startServer runs bin with a private data folder and ports, this host
// advertising vcpus, no default environment, and waits until it answers.
// extra are more batchd flags (e.g. --services).
func startServer(ctx context.Context, bin, data string, vcpus int, extra ...string) (*server, error) {
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	h, err := freeAddr()
	if err != nil {
		return nil, err
	}
	n, err := freeAddr()
	if err != nil {
		return nil, err
	}
	pp, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s := &server{data: data, httpAddr: h, natsAddr: n, pprofAddr: pp, logPath: filepath.Join(data, "batchd.log"), done: make(chan struct{})}
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	args := append([]string{"--data", filepath.Join(data, "store"), "--http", h, "--nats", n,
		"--host-vcpus", strconv.Itoa(vcpus), "--host-memory", "8192", "--defaults=false", "--log-level", "warn", "--pprof", pp}, extra...)
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start batchd: %w", err)
	}
	go func() { _ = s.cmd.Wait(); logf.Close(); close(s.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + h + "/healthz"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("batchd exited at start:\n%s", s.tail())
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	s.stop()
	return nil, fmt.Errorf("batchd did not answer in 60s:\n%s", s.tail())
}

// stop ends batchd with SIGTERM (SIGKILL after 30 s).
func (s *server) stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *server) alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// tail is the end of batchd's log.
func (s *server) tail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// memory reads the resident set (VmRSS) and its peak (VmHWM) of batchd in MiB.
func (s *server) memory() (rss, peak float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return rss, peak, nil
}

// cpuSeconds is the CPU time (user+system) batchd has used.
func (s *server) cpuSeconds() float64 {
	return procCPUSeconds(s.cmd.Process.Pid)
}

func procCPUSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces: fields count from after ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}

// hostID is the id batchd's launcher labels its containers with.
func (s *server) hostID() string {
	b, _ := os.ReadFile(filepath.Join(s.data, "store", "host-id"))
	return strings.TrimSpace(string(b))
}
