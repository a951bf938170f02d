package launcher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/batchd/batchd/services/launcher/internal/cdi"
	"github.com/batchd/batchd/services/launcher/internal/runtime"
)

// labelGPUs lists the CDI devices a container was given, comma separated,
// so that a restarted launcher knows which devices running jobs hold.
const labelGPUs = "batch.gpus"

// envVisibleDevices is set, as on AWS Batch, to the GPUs a container has.
const envVisibleDevices = "NVIDIA_VISIBLE_DEVICES"

// errGPUsBusy says that fewer GPUs are free than a placement needs: the
// scheduler counted a GPU free that a container of this host still holds
// (its exit is being reported). The placement is tried again.
var errGPUsBusy = errors.New("not enough free GPUs on this host yet")

// hostGPUs works out the host's GPU devices from the configuration: the
// devices named, else those of the CDI specs when asked to discover them,
// else Config.GPUs devices named by index.
func hostGPUs(cfg Config) ([]string, error) {
	switch {
	case len(cfg.GPUDevices) > 0:
		return slices.Clone(cfg.GPUDevices), nil
	case cfg.DiscoverGPUs:
		dirs := cfg.CDIDirs
		if len(dirs) == 0 {
			dirs = cdi.DefaultDirs
		}
		return cdi.Devices(dirs, cdi.GPUKind)
	}
	return cdi.Indexed(cdi.GPUKind, cfg.GPUs), nil
}

// gpuSet hands out the host's GPU devices: an attempt that needs N gets N
// distinct devices that no other attempt of this host holds, until its
// container has exited.
type gpuSet struct {
	mu      sync.Mutex
	devices []string          // all of the host's, in order
	holder  map[string]string // device -> attempt key holding it
}

func newGPUSet(devices []string) *gpuSet {
	return &gpuSet{devices: devices, holder: map[string]string{}}
}

// take gives attempt key n free devices (the ones it holds already, if
// it does). It fails with an error wrapping runtime.ErrCannotStart when the
// host has fewer than n GPUs, errGPUsBusy when fewer are free.
func (g *gpuSet) take(key string, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if n > len(g.devices) {
		return nil, refusal(fmt.Sprintf("CannotStartContainerError: the job needs %d GPUs, this host has %d", n, len(g.devices)))
	}
	if held := g.heldBy(key); len(held) > 0 {
		return held, nil
	}
	var free []string
	for _, d := range g.devices {
		if _, busy := g.holder[d]; !busy {
			free = append(free, d)
			if len(free) == n {
				break
			}
		}
	}
	if len(free) < n {
		return nil, fmt.Errorf("%w: %d needed, %d free", errGPUsBusy, n, len(free))
	}
	for _, d := range free {
		g.holder[d] = key
	}
	return free, nil
}

// takeEach gives the containers of one attempt (a task) the GPUs each
// needs: needs[i] distinct devices for container i, no device given to two
// containers or held by another attempt. have[i], when it has needs[i]
// devices, are the ones container i was created with (a pod found after a
// restart) and stay its own. Every device of the attempt is held under the
// one key, so release and a restarted launcher's hold (of the union of its
// containers' labels) treat the attempt as a whole. Nothing is taken when
// it fails: an error wrapping runtime.ErrCannotStart when the host has
// fewer GPUs than the task's total, errGPUsBusy when fewer are free.
func (g *gpuSet) takeEach(key string, needs []int, have [][]string) ([][]string, error) {
	total := 0
	for _, n := range needs {
		total += max(n, 0)
	}
	out := make([][]string, len(needs))
	if total == 0 {
		return out, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if total > len(g.devices) {
		return nil, refusal(fmt.Sprintf("CannotStartContainerError: the job's containers need %d GPUs together, this host has %d", total, len(g.devices)))
	}
	mine := map[string]bool{} // devices given to a container of the attempt
	for i, n := range needs {
		if i >= len(have) || n <= 0 || len(have[i]) != n {
			continue
		}
		for _, d := range have[i] {
			if k, busy := g.holder[d]; (busy && k != key) || mine[d] || !slices.Contains(g.devices, d) {
				return nil, fmt.Errorf("%w: container %d was created with %s, which is not free", errGPUsBusy, i, d)
			}
		}
		for _, d := range have[i] {
			mine[d] = true
		}
		out[i] = slices.Clone(have[i])
	}
	var free []string
	for _, d := range g.devices {
		if k, busy := g.holder[d]; !mine[d] && (!busy || k == key) {
			free = append(free, d)
		}
	}
	available := len(free) + len(mine)
	for i, n := range needs {
		if n <= 0 || out[i] != nil {
			continue
		}
		if len(free) < n {
			return nil, fmt.Errorf("%w: %d needed, %d free", errGPUsBusy, total, available)
		}
		out[i], free = slices.Clone(free[:n]), free[n:]
		for _, d := range out[i] {
			mine[d] = true
		}
	}
	g.releaseLocked(key)
	for d := range mine {
		g.holder[d] = key
	}
	return out, nil
}

// hold records that attempt key holds devices (a container found running),
// instead of any it held before.
func (g *gpuSet) hold(key string, devices []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.releaseLocked(key)
	for _, d := range devices {
		g.holder[d] = key
	}
}

// release frees the devices attempt key holds.
func (g *gpuSet) release(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.releaseLocked(key)
}

func (g *gpuSet) releaseLocked(key string) {
	for d, k := range g.holder {
		if k == key {
			delete(g.holder, d)
		}
	}
}

// heldBy lists the devices key holds, in the host's order.
func (g *gpuSet) heldBy(key string) []string {
	var out []string
	for _, d := range g.devices {
		if g.holder[d] == key {
			out = append(out, d)
		}
	}
	return out
}

// refusal is a start failure that retrying will not fix; its message is
// the status reason.
type refusal string

func (e refusal) Error() string { return string(e) }
func (e refusal) Unwrap() error { return runtime.ErrCannotStart }

// gpuLabel and gpusOfLabel write and read labelGPUs.
func gpuLabel(devices []string) string { return strings.Join(devices, ",") }

func gpusOfLabel(labels map[string]string) []string {
	v := labels[labelGPUs]
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// startWithGPUs gives the attempt the GPUs it needs, then starts its
// container with them (withGPUs). When the
// container already existed (a start redelivered after a crash), the
// devices it was created with are the ones held. The devices are freed if
// the container cannot start.
func (l *launcher) startWithGPUs(ctx context.Context, job string, attempt, n int, spec runtime.Spec) (runtime.Container, error) {
	key := attemptKey(job, attempt)
	devices, err := l.gpus.take(key, n)
	if err != nil {
		return runtime.Container{}, err
	}
	withGPUs(&spec, devices)
	c, err := l.rt.Start(ctx, spec)
	if err != nil {
		l.gpus.release(key)
		return c, err
	}
	if got := gpusOfLabel(c.Labels); c.Labels != nil && !slices.Equal(got, devices) {
		l.gpus.hold(key, got)
	}
	return c, nil
}

// withGPUs gives a container's spec its devices: the CDI devices,
// NVIDIA_VISIBLE_DEVICES (their names, comma separated, as AWS Batch sets
// it) and labelGPUs.
func withGPUs(spec *runtime.Spec, devices []string) {
	if len(devices) == 0 {
		return
	}
	spec.GPUDevices = devices
	spec.Env = cloneEnv(spec.Env)
	names := make([]string, len(devices))
	for i, d := range devices {
		names[i] = cdi.Name(d)
	}
	spec.Env[envVisibleDevices] = strings.Join(names, ",")
	spec.Labels[labelGPUs] = gpuLabel(devices)
}

func cloneEnv(env map[string]string) map[string]string {
	out := make(map[string]string, len(env)+1)
	for k, v := range env {
		out[k] = v
	}
	return out
}
