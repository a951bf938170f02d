package launcher

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/services/launcher/internal/runtime"
)

// errSpec is a container the launcher cannot run as placed (it wraps
// runtime.ErrCannotStart, so the attempt fails with its message).
type errSpec struct{ msg string }

func (e *errSpec) Error() string { return e.msg }
func (e *errSpec) Unwrap() error { return runtime.ErrCannotStart }

// runtimeSpec is the one mapping from a placed container (events.ContainerSpec)
// to what the runtime runs: the container of a job, or one container of a
// multi-container job (name and labels are the caller's). Attempt volumes
// are named per attempt (attemptVolume), EFS file systems become bind
// mounts of the folders Config.EFSVolumes maps them to.
func (l *launcher) runtimeSpec(job string, attempt int, name string, labels map[string]string, c events.ContainerSpec) (runtime.Spec, error) {
	if c.Refused != "" {
		return runtime.Spec{}, &errSpec{c.Refused}
	}
	s := runtime.Spec{
		Name: name, Image: c.Image, Command: c.Command, Env: c.Environment, User: c.User, VCPUs: c.VCPUs,
		MemoryMiB: c.MemoryMiB, Network: l.cfg.Network, Privileged: c.Privileged,
		ReadOnlyRoot: c.ReadOnlyRoot, Labels: labels, Pull: pullOf(c),
	}
	set := runtime.Settings{Init: c.Init, ShmSizeMiB: c.ShmSizeMiB, MaxSwapMiB: c.MaxSwapMiB, Swappiness: c.Swappiness,
		CPULimit: l.cfg.CPULimit}
	for _, m := range c.Mounts {
		rm := runtime.Mount{Kind: m.Kind, Source: m.Source, Destination: m.Destination, ReadOnly: m.ReadOnly,
			SizeMiB: m.SizeMiB, Options: m.Options}
		switch m.Kind {
		case events.MountBind:
			rm.Kind = runtime.MountBind
		case events.MountVolume:
			rm.Kind, rm.Source = runtime.MountVolume, attemptVolume(job, attempt, m.Source)
		case events.MountTmpfs:
			rm.Kind = runtime.MountTmpfs
		case events.MountEFS:
			root, ok := l.cfg.EFSVolumes[m.Source]
			if !ok {
				return runtime.Spec{}, &errSpec{fmt.Sprintf("EFS file system %s is not mapped to a folder on host %s (launcher --efs-volume)", m.Source, l.cfg.HostID)}
			}
			if _, err := os.Stat(root); err != nil {
				return runtime.Spec{}, &errSpec{fmt.Sprintf("EFS file system %s is mapped to %s, which host %s cannot use: %v", m.Source, root, l.cfg.HostID, err)}
			}
			rm.Kind, rm.Source = runtime.MountBind, filepath.Join(root, m.SubPath)
		default:
			return runtime.Spec{}, &errSpec{fmt.Sprintf("mount kind %q is unknown to this launcher", m.Kind)}
		}
		set.Mounts = append(set.Mounts, rm)
	}
	for _, sec := range c.Secrets {
		set.Secrets = append(set.Secrets, runtime.Secret{Env: sec.Env, Names: sec.Names, ValueFrom: sec.ValueFrom})
	}
	for _, u := range c.Ulimits {
		set.Ulimits = append(set.Ulimits, runtime.Ulimit{Name: u.Name, Soft: u.SoftLimit, Hard: u.HardLimit})
	}
	for _, d := range c.Devices {
		set.Devices = append(set.Devices, runtime.Device{HostPath: d.HostPath, ContainerPath: d.ContainerPath, Permissions: d.Permissions})
	}
	s.Settings = set
	return s, nil
}

// attemptVolume names the engine volume of a job volume for one attempt.
func attemptVolume(job string, attempt int, volume string) string {
	return containerName(job, attempt) + "-" + volume
}

// attemptLabels are the labels of an attempt's container.
func (l *launcher) attemptLabels(p events.JobPlaced) map[string]string {
	return map[string]string{labelJob: p.JobID, labelAttempt: strconv.Itoa(p.Attempt), labelHost: l.cfg.HostID,
		labelQueue: p.JobQueue, labelTimeout: strconv.Itoa(p.Container.TimeoutSeconds)}
}
