package podman

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/containers/podman/v5/pkg/specgen"
	spec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/batchd/batchd/services/launcher/internal/runtime"
)

func TestSpecGeneratorMapsSettings(t *testing.T) {
	maxSwap, swappiness := 32, 10
	s := runtime.Spec{Name: "batch-x-1", Image: "img", VCPUs: 1.5, MemoryMiB: 64, Settings: runtime.Settings{
		Mounts: []runtime.Mount{
			{Kind: runtime.MountBind, Source: "/data/in", Destination: "/in", ReadOnly: true},
			{Kind: runtime.MountBind, Source: "/data/out", Destination: "/out"},
			{Kind: runtime.MountVolume, Source: "batch-x-1-scratch", Destination: "/scratch"},
			{Kind: runtime.MountTmpfs, Destination: "/t", SizeMiB: 16, Options: []string{"noexec"}},
		},
		Secrets: []runtime.Secret{{Env: "DB", Names: []string{"db-AbCdEf", "db"}}},
		Ulimits: []runtime.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}},
		Devices: []runtime.Device{{HostPath: "/dev/null", ContainerPath: "/dev/mynull", Permissions: "rw"}},
		Init:    true, ShmSizeMiB: 96, MaxSwapMiB: &maxSwap, Swappiness: &swappiness,
	}}
	g, err := specGenerator(s, map[string]string{"DB": "db"})
	if err != nil {
		t.Fatal(err)
	}
	wantMounts := []spec.Mount{
		{Type: "bind", Source: "/data/in", Destination: "/in", Options: []string{"rbind", "ro"}},
		{Type: "bind", Source: "/data/out", Destination: "/out", Options: []string{"rbind", "rw"}},
		{Type: "tmpfs", Source: "tmpfs", Destination: "/t", Options: []string{"size=16m", "noexec"}},
	}
	if !reflect.DeepEqual(g.Mounts, wantMounts) {
		t.Errorf("mounts = %+v", g.Mounts)
	}
	if len(g.Volumes) != 1 || !reflect.DeepEqual(*g.Volumes[0], specgen.NamedVolume{Name: "batch-x-1-scratch", Dest: "/scratch"}) {
		t.Errorf("volumes = %+v", g.Volumes)
	}
	if !reflect.DeepEqual(g.EnvSecrets, map[string]string{"DB": "db"}) {
		t.Errorf("env secrets = %v", g.EnvSecrets)
	}
	if !reflect.DeepEqual(g.Rlimits, []spec.POSIXRlimit{{Type: "nofile", Soft: 1024, Hard: 2048}}) {
		t.Errorf("rlimits = %+v", g.Rlimits)
	}
	if !reflect.DeepEqual(g.Devices, []spec.LinuxDevice{{Path: "/dev/null:/dev/mynull:rw"}}) {
		t.Errorf("devices = %+v", g.Devices)
	}
	if g.Init == nil || !*g.Init || g.ShmSize == nil || *g.ShmSize != 96<<20 {
		t.Errorf("init %v, shm %v", g.Init, g.ShmSize)
	}
	r := g.ResourceLimits
	if r == nil || r.CPU == nil || r.CPU.Shares == nil || *r.CPU.Shares != 1536 || r.CPU.Quota != nil {
		t.Errorf("cpu = %+v, want 1536 shares and no quota", r.CPU)
	}
	if m := r.Memory; *m.Limit != 64<<20 || *m.Swap != (64+32)<<20 || *m.Swappiness != 10 {
		t.Errorf("memory = limit %d swap %d swappiness %d", *m.Limit, *m.Swap, *m.Swappiness)
	}
}

func TestSpecGeneratorCPUQuota(t *testing.T) {
	g, err := specGenerator(runtime.Spec{Name: "n", Image: "i", VCPUs: 0.5, MemoryMiB: 8, Settings: runtime.Settings{CPULimit: runtime.CPUQuota}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := g.ResourceLimits.CPU; c.Shares != nil || *c.Quota != 50000 || *c.Period != 100000 {
		t.Fatalf("cpu = %+v, want a 50ms/100ms quota", c)
	}
	if m := g.ResourceLimits.Memory; *m.Swap != *m.Limit || m.Swappiness != nil {
		t.Fatalf("memory without maxSwap must have no swap: %+v", m)
	}
	if _, err := specGenerator(runtime.Spec{Name: "n", Image: "i", VCPUs: 1, Settings: runtime.Settings{CPULimit: "soft"}}, nil); !errors.Is(err, runtime.ErrCannotStart) {
		t.Fatalf("unknown cpu limit kind: %v", err)
	}
}

func TestUlimitRefusedNamesTheLimit(t *testing.T) {
	err := errors.New("runc: runc create failed: unable to start container process: error during container init: error setting rlimits for ready process: error setting rlimit type 6: operation not permitted: OCI permission denied")
	msg, ok := ulimitRefused(err, []runtime.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}})
	if !ok || !strings.Contains(msg, "refused to set ulimit nproc") || !strings.Contains(msg, "nofile=1024:2048") {
		t.Fatalf("reason = %q", msg)
	}
	if _, ok := ulimitRefused(err, nil); ok {
		t.Fatal("a job without ulimits got the ulimit reason")
	}
}
