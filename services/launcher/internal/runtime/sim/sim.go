// Package sim is a simulated runtime.Runtime: containers are goroutines
// that interpret their command with a small shell (see shell.go), so a job's
// `sleep 5` lasts five seconds, `exit 3` exits 3 and `echo` prints, without
// any engine. It lets one machine simulate many hosts for scale tests
// (batchd --runtime sim --sim-hosts N). Containers live in the process's
// memory: a restarted process finds none, as after the loss of a host.
//
// Differences from a real engine: no image is pulled or read (an image is
// present when Config.Images lists it, or always when that list is empty);
// programs other than the shell's few fail to start; a stopped container
// ends at once with exit code 143 (SIGTERM), whatever its grace period.
package sim

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/batchd/batchd/services/launcher/internal/runtime"
)

// Exit codes of containers ended from outside.
const (
	StopExitCode   = 143 // Stop: SIGTERM
	RemoveExitCode = 137 // Remove of a running container: SIGKILL
)

// Config is the simulated engine's setting.
type Config struct {
	// Images are the images present; empty: every image is.
	Images []string
	// Clock stamps start and finish times and output lines; nil: time.Now.
	Clock func() time.Time
}

// Runtime is the simulated engine. The zero value is not usable; call New.
type Runtime struct {
	cfg Config

	mu     sync.Mutex
	byID   map[string]*container
	byName map[string]*container
	pods   map[string]bool
	seq    int
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns an engine with no containers.
func New(cfg Config) *Runtime {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Runtime{cfg: cfg, byID: map[string]*container{}, byName: map[string]*container{}, pods: map[string]bool{}}
}

// container is one simulated container; its output is kept whole.
type container struct {
	c    runtime.Container
	spec runtime.Spec

	mu      sync.Mutex
	running bool
	exit    runtime.Exit
	lines   []runtime.LogLine
	changed chan struct{} // closed and replaced on every new line and at exit
	cancel  context.CancelFunc
	forced  int // exit code set by Stop or Remove, 0: none
	done    chan struct{}
}

// Start creates and starts the container, or returns the one with the same
// name.
func (r *Runtime) Start(ctx context.Context, spec runtime.Spec) (runtime.Container, error) {
	c, err := r.Create(ctx, spec)
	if err != nil || !c.Created {
		return c, err
	}
	if err := r.StartCreated(ctx, c.ID); err != nil {
		return runtime.Container{}, err
	}
	got, err := r.get(c.ID)
	if err != nil {
		return runtime.Container{}, err
	}
	return got.snapshot(), nil
}

// Create creates the container, not started, or returns the one with the
// same name.
func (r *Runtime) Create(_ context.Context, spec runtime.Spec) (runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.byName[spec.Name]; c != nil {
		return c.snapshot(), nil
	}
	if len(r.cfg.Images) > 0 && !slices.Contains(r.cfg.Images, spec.Image) {
		return runtime.Container{}, runtime.CannotStart(
			fmt.Sprintf("image %q not found locally (simulated images: %s)", spec.Image, strings.Join(r.cfg.Images, ", ")),
			runtime.ErrImageNotFound)
	}
	if len(spec.Command) > 0 && !known(spec.Command[0]) {
		return runtime.Container{}, runtime.CannotStart(
			fmt.Sprintf("executable file %q not found in $PATH of the simulated image", spec.Command[0]))
	}
	if spec.Pod != "" && !r.pods[spec.Pod] {
		return runtime.Container{}, runtime.CannotStart("no such pod " + spec.Pod)
	}
	r.seq++
	c := &container{
		c: runtime.Container{ID: fmt.Sprintf("sim%012d", r.seq), Name: spec.Name,
			Labels: maps.Clone(spec.Labels), Created: true},
		spec:    spec,
		changed: make(chan struct{}),
		cancel:  func() {},
		done:    make(chan struct{}),
	}
	r.byID[c.c.ID], r.byName[spec.Name] = c, c
	return c.snapshot(), nil
}

// StartCreated starts a created container; one that started already is
// left alone.
func (r *Runtime) StartCreated(_ context.Context, id string) error {
	c, err := r.get(id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.c.Created {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.running, c.c.Running, c.c.Created = true, true, false
	c.exit = runtime.Exit{StartedAt: r.cfg.Clock()}
	go r.execute(ctx, c)
	return nil
}

// execute runs the container's command to its end.
func (r *Runtime) execute(ctx context.Context, c *container) {
	env := map[string]string{"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
		"HOSTNAME": c.c.ID[:12]}
	maps.Copy(env, c.spec.Env)
	p := &proc{ctx: ctx, env: env, files: c.files}
	stdout := &lineWriter{c: c, stream: "stdout", clock: r.cfg.Clock}
	stderr := &lineWriter{c: c, stream: "stderr", clock: r.cfg.Clock}
	code := 0
	if len(c.spec.Command) > 0 {
		var err error
		code, err = p.exec(c.spec.Command, strings.NewReader(""), stdout, stderr)
		if ex, ok := err.(errExit); ok {
			code = ex.code
		}
	}
	stdout.flush()
	stderr.flush()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.forced != 0 {
		code = c.forced
	}
	c.exit.ExitCode = code
	c.exit.FinishedAt = r.cfg.Clock()
	c.running, c.c.Running = false, false
	close(c.changed)
	c.changed = make(chan struct{})
	close(c.done)
	c.cancel()
}

// files are the container's virtual files: its cgroup limits (v2).
func (c *container) files(path string) (io.Reader, bool) {
	switch path {
	case "/sys/fs/cgroup/memory.max":
		v := "max"
		if c.spec.MemoryMiB > 0 {
			v = strconv.FormatInt(c.spec.MemoryMiB<<20, 10)
		}
		return strings.NewReader(v + "\n"), true
	case "/sys/fs/cgroup/cpu.max":
		v := "max"
		if c.spec.VCPUs > 0 && c.spec.Settings.CPULimit == runtime.CPUQuota {
			v = strconv.FormatInt(int64(c.spec.VCPUs*100000+0.5), 10)
		}
		return strings.NewReader(v + " 100000\n"), true
	case "/sys/fs/cgroup/cpu.weight":
		// CPU shares (1024 per vCPU) as cgroup v2 converts them.
		weight := int64(100)
		if c.spec.VCPUs > 0 && c.spec.Settings.CPULimit != runtime.CPUQuota {
			shares := max(int64(c.spec.VCPUs*1024), 2)
			weight = 1 + (shares-2)*9999/262142
		}
		return strings.NewReader(strconv.FormatInt(weight, 10) + "\n"), true
	case "/etc/hostname":
		return strings.NewReader(c.c.ID[:12] + "\n"), true
	}
	return nil, false
}

func (c *container) snapshot() runtime.Container {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.c
	out.Labels = maps.Clone(c.c.Labels)
	return out
}

// end stops a running container with the given exit code; a container
// that was only created ends at once, never having run.
func (c *container) end(code int) {
	c.mu.Lock()
	if c.c.Created {
		c.c.Created = false
		c.exit.ExitCode = code
		close(c.done)
		c.mu.Unlock()
		return
	}
	if c.running && c.forced == 0 {
		c.forced = code
	}
	c.mu.Unlock()
	c.cancel()
}

// Wait blocks until the container exits.
func (r *Runtime) Wait(ctx context.Context, id string) (runtime.Exit, error) {
	c, err := r.get(id)
	if err != nil {
		return runtime.Exit{}, err
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return runtime.Exit{}, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.exit, nil
}

// Logs sends the output stamped after since, following it until the
// container exits or ctx ends.
func (r *Runtime) Logs(ctx context.Context, id string, since time.Time, out chan<- runtime.LogLine) error {
	defer close(out)
	c, err := r.get(id)
	if err != nil {
		return err
	}
	next := 0
	for {
		c.mu.Lock()
		lines := c.lines[next:]
		next = len(c.lines)
		running, changed := c.running, c.changed
		c.mu.Unlock()
		for _, l := range lines {
			if !since.IsZero() && !l.Time.After(since) {
				continue
			}
			select {
			case out <- l:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if !running && len(lines) == 0 {
			return nil
		}
		if !running {
			continue // pick up lines written just before the exit
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Stop ends the container at once with StopExitCode; grace is not waited.
func (r *Runtime) Stop(_ context.Context, id string, _ time.Duration) error {
	c, err := r.get(id)
	if err != nil {
		return err
	}
	c.end(StopExitCode)
	<-c.done
	return nil
}

// Remove kills (RemoveExitCode) and forgets the container; a missing one
// is no error.
func (r *Runtime) Remove(_ context.Context, id string) error {
	c, err := r.get(id)
	if err != nil {
		return nil
	}
	c.end(RemoveExitCode)
	<-c.done
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byID[c.c.ID] == c {
		delete(r.byID, c.c.ID)
		delete(r.byName, c.c.Name)
	}
	return nil
}

// List returns the containers whose labels include all the given ones.
func (r *Runtime) List(_ context.Context, labels map[string]string) ([]runtime.Container, error) {
	r.mu.Lock()
	cs := slices.Collect(maps.Values(r.byID))
	r.mu.Unlock()
	var out []runtime.Container
	for _, c := range cs {
		s := c.snapshot()
		if s.HasLabels(labels) {
			out = append(out, s)
		}
	}
	return out, nil
}

// Len is the number of containers (running or exited) the engine holds.
func (r *Runtime) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID)
}

// get finds a container by ID or name.
func (r *Runtime) get(id string) (*container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.byID[id]; c != nil {
		return c, nil
	}
	if c := r.byName[id]; c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("sim: no such container %q", id)
}

// lineWriter turns a stream's bytes into the container's log lines.
type lineWriter struct {
	c      *container
	stream string
	clock  func() time.Time
	buf    []byte
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	var lines []string
	for {
		i := slices.Index(w.buf, '\n')
		if i < 0 {
			break
		}
		lines = append(lines, string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	if len(lines) > 0 {
		w.emit(lines)
	}
	return len(b), nil
}

// flush emits a last line without a newline.
func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.emit([]string{string(w.buf)})
		w.buf = nil
	}
}

func (w *lineWriter) emit(lines []string) {
	now := w.clock()
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	for _, l := range lines {
		// Every line gets its own instant, so Logs' since finds a tail.
		if n := len(w.c.lines); n > 0 && !now.After(w.c.lines[n-1].Time) {
			now = w.c.lines[n-1].Time.Add(time.Nanosecond)
		}
		w.c.lines = append(w.c.lines, runtime.LogLine{Stream: w.stream, Text: l, Time: now})
	}
	close(w.c.changed)
	w.c.changed = make(chan struct{})
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
