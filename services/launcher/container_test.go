package launcher

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/services/launcher/internal/runtime"
)

func TestRuntimeSpecMapsSettings(t *testing.T) {
	efs := t.TempDir()
	l := &launcher{cfg: Config{HostID: "h1", Network: "host", CPULimit: runtime.CPUQuota, EFSVolumes: map[string]string{"fs-1": efs}}}
	swap := 8
	c := events.ContainerSpec{Image: "img", VCPUs: 2, MemoryMiB: 64, Init: true, ShmSizeMiB: 16, MaxSwapMiB: &swap,
		Mounts: []events.Mount{
			{Kind: events.MountBind, Source: "/data", Destination: "/in", ReadOnly: true},
			{Kind: events.MountVolume, Source: "scratch", Destination: "/scratch"},
			{Kind: events.MountEFS, Source: "fs-1", SubPath: "a/b", Destination: "/efs"},
			{Kind: events.MountTmpfs, Destination: "/t", SizeMiB: 4, Options: []string{"noexec"}},
		},
		Secrets: []events.SecretEnv{{Env: "S", Names: []string{"s-AbCdEf", "s"}, ValueFrom: "v"}},
		Ulimits: []batch.Ulimit{{Name: "nofile", SoftLimit: 1, HardLimit: 2}},
		Devices: []events.DeviceMapping{{HostPath: "/dev/null", ContainerPath: "/dev/n", Permissions: "r"}},
	}
	s, err := l.runtimeSpec("j:1", 2, "batch-j_1-2", nil, c)
	if err != nil {
		t.Fatal(err)
	}
	want := runtime.Settings{
		Mounts: []runtime.Mount{
			{Kind: runtime.MountBind, Source: "/data", Destination: "/in", ReadOnly: true},
			{Kind: runtime.MountVolume, Source: "batch-j_1-2-scratch", Destination: "/scratch"},
			{Kind: runtime.MountBind, Source: filepath.Join(efs, "a/b"), Destination: "/efs"},
			{Kind: runtime.MountTmpfs, Destination: "/t", SizeMiB: 4, Options: []string{"noexec"}},
		},
		Secrets: []runtime.Secret{{Env: "S", Names: []string{"s-AbCdEf", "s"}, ValueFrom: "v"}},
		Ulimits: []runtime.Ulimit{{Name: "nofile", Soft: 1, Hard: 2}},
		Devices: []runtime.Device{{HostPath: "/dev/null", ContainerPath: "/dev/n", Permissions: "r"}},
		Init:    true, ShmSizeMiB: 16, MaxSwapMiB: &swap, CPULimit: runtime.CPUQuota,
	}
	if !reflect.DeepEqual(s.Settings, want) || s.Network != "host" || s.VCPUs != 2 {
		t.Fatalf("settings =\n%+v\nwant\n%+v", s.Settings, want)
	}

	for _, tc := range []struct {
		c    events.ContainerSpec
		want string
	}{
		{events.ContainerSpec{Refused: "containerProperties: no"}, "containerProperties: no"},
		{events.ContainerSpec{Mounts: []events.Mount{{Kind: events.MountEFS, Source: "fs-2", Destination: "/e"}}}, "EFS file system fs-2 is not mapped to a folder on host h1"},
	} {
		_, err := l.runtimeSpec("j", 1, "n", nil, tc.c)
		if !errors.Is(err, runtime.ErrCannotStart) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want ErrCannotStart with %q", err, tc.want)
		}
	}
}

// A placement the launcher cannot run as placed fails its attempt with the
// reason, and starts nothing.
func TestRefusedPlacementFails(t *testing.T) {
	r := newRig(t)
	r.start(t)
	r.record("j9", batch.StatusStarting, 0)
	p := events.JobPlaced{JobID: "j9", Attempt: 1, HostID: "h1", ComputeEnvironment: "ce", JobQueue: "q",
		Container: events.ContainerSpec{Image: "img", Refused: `ulimits[0].name "files" is invalid`}}
	if _, err := bus.Publish(t.Context(), r.js, p); err != nil {
		t.Fatal(err)
	}
	var exited events.JobExited
	_ = json.Unmarshal(r.next("exited", 5*time.Second).Data, &exited)
	if exited.ExitCode != nil || exited.StatusReason != `CannotStartContainerError: ulimits[0].name "files" is invalid` {
		t.Fatalf("exited %+v", exited)
	}
	if specs := r.rt.Started(); len(specs) != 0 {
		t.Fatalf("started %+v", specs)
	}
}
