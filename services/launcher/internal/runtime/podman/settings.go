package podman

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/containers/podman/v5/pkg/bindings/secrets"
	"github.com/containers/podman/v5/pkg/specgen"
	spec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/batchd/batchd/services/launcher/internal/runtime"
)

// This file maps runtime.Settings (a job's volumes, secrets, ulimits and
// linuxParameters) onto Podman's spec.

// applySettings adds s to g. secretNames maps each secret's variable to
// the Podman secret found for it (resolveSecrets).
func applySettings(g *specgen.SpecGenerator, s runtime.Settings, secretNames map[string]string) {
	for _, m := range s.Mounts {
		switch m.Kind {
		case runtime.MountBind:
			opts := []string{"rbind", "rw"}
			if m.ReadOnly {
				opts[1] = "ro"
			}
			g.Mounts = append(g.Mounts, spec.Mount{Type: "bind", Source: m.Source, Destination: m.Destination, Options: opts})
		case runtime.MountVolume:
			var opts []string
			if m.ReadOnly {
				opts = []string{"ro"}
			}
			g.Volumes = append(g.Volumes, &specgen.NamedVolume{Name: m.Source, Dest: m.Destination, Options: opts})
		case runtime.MountTmpfs:
			opts := append([]string{"size=" + strconv.Itoa(m.SizeMiB) + "m"}, m.Options...)
			g.Mounts = append(g.Mounts, spec.Mount{Type: "tmpfs", Source: "tmpfs", Destination: m.Destination, Options: opts})
		}
	}
	if len(secretNames) > 0 {
		g.EnvSecrets = secretNames
	}
	for _, u := range s.Ulimits {
		// Podman takes the Docker name and adds the RLIMIT_ prefix itself.
		g.Rlimits = append(g.Rlimits, spec.POSIXRlimit{Type: u.Name, Soft: uint64(u.Soft), Hard: uint64(u.Hard)})
	}
	for _, d := range s.Devices {
		// Podman reads "host:container:permissions" from the path.
		g.Devices = append(g.Devices, spec.LinuxDevice{Path: d.HostPath + ":" + d.ContainerPath + ":" + d.Permissions})
	}
	if s.Init {
		init := true
		g.Init = &init
	}
	if s.ShmSizeMiB > 0 {
		size := int64(s.ShmSizeMiB) << 20
		g.ShmSize = &size
	}
}

// applyResources sets the CPU and memory limits: CPU shares (1024 per
// vCPU, as AWS) or a CFS quota, and a hard memory limit with the swap
// allowed on top of it (none unless MaxSwapMiB says so).
func applyResources(g *specgen.SpecGenerator, s runtime.Spec) error {
	var res spec.LinuxResources
	if s.VCPUs < 0 || s.MemoryMiB < 0 {
		return runtime.CannotStart("CannotStartContainerError: negative resource requirement")
	}
	if s.VCPUs > 0 {
		switch s.Settings.CPULimit {
		case runtime.CPUShares, "":
			shares := max(uint64(s.VCPUs*1024), 2) // the kernel's minimum
			res.CPU = &spec.LinuxCPU{Shares: &shares}
		case runtime.CPUQuota:
			// The kernel refuses quotas under 1ms.
			quota := max(int64(s.VCPUs*cpuPeriod), 1000)
			period := uint64(cpuPeriod)
			res.CPU = &spec.LinuxCPU{Quota: &quota, Period: &period}
		default:
			return runtime.CannotStart(fmt.Sprintf("CannotStartContainerError: unknown CPU limit kind %q", s.Settings.CPULimit))
		}
	}
	if s.MemoryMiB > 0 {
		limit := s.MemoryMiB << 20
		// Swap is the memory+swap total: equal to the limit means no swap,
		// so the limit is a hard one (Podman's default would double it).
		swap := limit
		if m := s.Settings.MaxSwapMiB; m != nil {
			swap += int64(*m) << 20
		}
		res.Memory = &spec.LinuxMemory{Limit: &limit, Swap: &swap}
		if sw := s.Settings.Swappiness; sw != nil {
			v := uint64(*sw)
			res.Memory.Swappiness = &v
		}
	}
	if res.CPU != nil || res.Memory != nil {
		g.ResourceLimits = &res
	}
	return nil
}

// resolveSecrets finds the Podman secret of every secret variable: the
// first of its names that exists. A secret that exists under none of them
// fails the start with a reason naming it.
func (r *Runtime) resolveSecrets(ctx context.Context, list []runtime.Secret) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(list))
	for _, s := range list {
		for _, name := range s.Names {
			// Inspect, not Exists: Podman 4.3 has no secret exists endpoint.
			_, err := secrets.Inspect(r.bind(ctx), name, nil)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("podman secret inspect %s: %w", name, err)
			}
			out[s.Env] = name
			break
		}
		if _, ok := out[s.Env]; !ok {
			return nil, runtime.CannotStart(fmt.Sprintf("CannotStartContainerError: secret %s: no Podman secret named %s on this host (valueFrom %s)",
				s.Env, strings.Join(s.Names, " or "), s.ValueFrom))
		}
	}
	return out, nil
}

// prepareBindSources creates the host folders of bind mounts that do not
// exist yet, as Docker on ECS does, when Podman runs on this host.
func (r *Runtime) prepareBindSources(mounts []runtime.Mount) error {
	if r.exits == nil && localExitDir(r.uri) == "" {
		return nil // a remote Podman: its host's folders are not ours
	}
	for _, m := range mounts {
		if m.Kind != runtime.MountBind {
			continue
		}
		if _, err := os.Stat(m.Source); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(m.Source, 0o755); err != nil {
				return runtime.CannotStart(fmt.Sprintf("CannotStartContainerError: create host folder %s for %s: %v", m.Source, m.Destination, err))
			}
		}
	}
	return nil
}

// rlimitType finds the rlimit runc names by number in its error.
var rlimitType = regexp.MustCompile(`rlimit type (\d+)`)

// linuxRlimits are the Linux rlimit numbers, by the Docker names.
var linuxRlimits = []string{"cpu", "fsize", "data", "stack", "core", "rss", "nproc", "nofile", "memlock", "as",
	"locks", "sigpending", "msgqueue", "nice", "rtprio", "rttime"}

// ulimitRefused words a start failure caused by a refused rlimit: which
// limit the host refused and which ulimits the job asked for. Podman sets
// nofile and nproc limits of its own next to the job's.
func ulimitRefused(err error, asked []runtime.Ulimit) (string, bool) {
	msg := err.Error()
	if len(asked) == 0 || !strings.Contains(msg, "rlimit") {
		return "", false
	}
	which := "a ulimit"
	if m := rlimitType.FindStringSubmatch(msg); m != nil {
		if n, _ := strconv.Atoi(m[1]); n < len(linuxRlimits) {
			which = "ulimit " + linuxRlimits[n]
		}
	}
	parts := make([]string, len(asked))
	for i, u := range asked {
		parts[i] = fmt.Sprintf("%s=%d:%d", u.Name, u.Soft, u.Hard)
	}
	return fmt.Sprintf("CannotStartContainerError: the host refused to set %s (the job sets ulimits %s; Podman sets nofile and nproc with them): %s",
		which, strings.Join(parts, ","), msg), true
}
