package events

import (
	"reflect"
	"strings"
	"testing"

	"github.com/batchd/batchd/pkg/batch"
)

func intp(v int) *int { return &v }

func TestNewContainerSpecMapsSettings(t *testing.T) {
	s := batch.ContainerSettings{
		Image: "img", Command: []string{"run"}, Environment: []batch.KeyValuePair{{Name: "A", Value: "1"}},
		Resources: batch.Resources{VCPUs: 2, MemoryMiB: 256}, User: "1000", ReadonlyRootFilesystem: true,
		Volumes: []batch.Volume{
			{Name: "in", Host: &batch.Host{SourcePath: "/data/in/"}},
			{Name: "scratch", Host: &batch.Host{}},
			{Name: "shared"},
			{Name: "efs", EfsVolumeConfiguration: &batch.EFSVolumeConfiguration{FileSystemID: "fs-1", RootDirectory: "/proj/a"}},
		},
		MountPoints: []batch.MountPoint{
			{SourceVolume: "in", ContainerPath: "/in", ReadOnly: true},
			{SourceVolume: "scratch", ContainerPath: "/scratch"},
			{SourceVolume: "shared", ContainerPath: "/shared/"},
			{SourceVolume: "efs", ContainerPath: "/efs"},
		},
		Ulimits: []batch.Ulimit{{Name: "nofile", SoftLimit: 1024, HardLimit: 2048}},
		LinuxParameters: &batch.LinuxParameters{
			Devices:            []batch.Device{{HostPath: "/dev/null", ContainerPath: "/dev/mynull", Permissions: []string{"READ", "WRITE", "READ"}}, {HostPath: "/dev/zero"}},
			InitProcessEnabled: true, SharedMemorySize: 96,
			Tmpfs:   []batch.Tmpfs{{ContainerPath: "/tmpfs", Size: 32, MountOptions: []string{"noexec", "mode=1777"}}},
			MaxSwap: intp(0), Swappiness: intp(10),
		},
		Secrets: []batch.Secret{
			{Name: "DB", ValueFrom: "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-pass-AbC123"},
			{Name: "TOKEN", ValueFrom: "arn:aws:ssm:us-east-1:123456789012:parameter/app/token"},
			{Name: "PLAIN", ValueFrom: "plain"},
		},
		LogConfiguration: &batch.LogConfiguration{LogDriver: "awslogs", Options: map[string]string{"awslogs-group": "g"}},
		RuntimePlatform:  &batch.RuntimePlatform{OperatingSystemFamily: "LINUX", CPUArchitecture: "ARM64"},
	}
	got, err := NewContainerSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	want := ContainerSpec{
		Image: "img", Command: []string{"run"}, Environment: map[string]string{"A": "1"}, VCPUs: 2, MemoryMiB: 256,
		User: "1000", ReadOnlyRoot: true,
		Mounts: []Mount{
			{Kind: MountBind, Source: "/data/in", Destination: "/in", ReadOnly: true},
			{Kind: MountVolume, Source: "scratch", Destination: "/scratch"},
			{Kind: MountVolume, Source: "shared", Destination: "/shared"},
			{Kind: MountEFS, Source: "fs-1", SubPath: "proj/a", Destination: "/efs"},
			{Kind: MountTmpfs, Destination: "/tmpfs", SizeMiB: 32, Options: []string{"noexec", "mode=1777"}},
		},
		Secrets: []SecretEnv{
			{Env: "DB", Names: []string{"db-pass-AbC123", "db-pass"}, ValueFrom: s.Secrets[0].ValueFrom},
			{Env: "TOKEN", Names: []string{"app.token"}, ValueFrom: s.Secrets[1].ValueFrom},
			{Env: "PLAIN", Names: []string{"plain"}, ValueFrom: "plain"},
		},
		Ulimits: []batch.Ulimit{{Name: "nofile", SoftLimit: 1024, HardLimit: 2048}},
		Devices: []DeviceMapping{{HostPath: "/dev/null", ContainerPath: "/dev/mynull", Permissions: "rw"},
			{HostPath: "/dev/zero", ContainerPath: "/dev/zero", Permissions: "rwm"}},
		Init: true, ShmSizeMiB: 96, MaxSwapMiB: intp(0), Swappiness: intp(10),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("spec =\n%+v\nwant\n%+v", got, want)
	}
}

func TestNewContainerSpecSwappinessNeedsMaxSwap(t *testing.T) {
	got, err := NewContainerSpec(batch.ContainerSettings{Image: "i", LinuxParameters: &batch.LinuxParameters{Swappiness: intp(5)}})
	if err != nil || got.Swappiness != nil || got.MaxSwapMiB != nil {
		t.Fatalf("swappiness without maxSwap: %+v %v (AWS ignores it)", got, err)
	}
}

func TestSecretNames(t *testing.T) {
	for _, tc := range []struct {
		valueFrom string
		want      []string
		err       string
	}{
		{"arn:aws:secretsmanager:eu-west-1:1:secret:db", []string{"db"}, ""},
		{"arn:aws:secretsmanager:eu-west-1:1:secret:db-AbCdEf", []string{"db-AbCdEf", "db"}, ""},
		{"arn:aws:secretsmanager:eu-west-1:1:secret:db-AbCdEf:::", []string{"db-AbCdEf", "db"}, ""},
		{"arn:aws:secretsmanager:eu-west-1:1:secret:db:password::", nil, "JSON key"},
		{"arn:aws:secretsmanager:eu-west-1:1:secret:db::AWSPREVIOUS:", nil, "version stage"},
		{"arn:aws-cn:ssm:cn-north-1:1:parameter/x", []string{"x"}, ""},
		{"arn:aws:ssm:eu-west-1:1:parameter/a/b/c", []string{"a.b.c"}, ""},
		{"/a/b", []string{"a.b"}, ""},
		{"token", []string{"token"}, ""},
		{"arn:aws:s3:::bucket/key", nil, "neither"},
		{"", nil, "valueFrom is required"},
		{"bad name!", nil, "cannot be a Podman secret name"},
	} {
		got, err := SecretNames(tc.valueFrom)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.valueFrom, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q = %v, %v; want %v", tc.valueFrom, got, err, tc.want)
		}
	}
}

func TestNewContainerSpecRefuses(t *testing.T) {
	base := func() batch.ContainerSettings {
		return batch.ContainerSettings{Image: "i", Environment: []batch.KeyValuePair{{Name: "E", Value: "v"}},
			Volumes: []batch.Volume{{Name: "v", Host: &batch.Host{SourcePath: "/x"}}}}
	}
	for _, tc := range []struct {
		name   string
		change func(*batch.ContainerSettings)
		want   string
	}{
		{"mount of no volume", func(s *batch.ContainerSettings) {
			s.MountPoints = []batch.MountPoint{{SourceVolume: "w", ContainerPath: "/w"}}
		}, `sourceVolume "w" names no volume`},
		{"relative container path", func(s *batch.ContainerSettings) {
			s.MountPoints = []batch.MountPoint{{SourceVolume: "v", ContainerPath: "w"}}
		}, "must be an absolute path in the container"},
		{"two mounts on a path", func(s *batch.ContainerSettings) {
			s.MountPoints = []batch.MountPoint{{SourceVolume: "v", ContainerPath: "/w"}, {SourceVolume: "v", ContainerPath: "/w/"}}
		}, "mounted on twice"},
		{"tmpfs on a mount", func(s *batch.ContainerSettings) {
			s.MountPoints = []batch.MountPoint{{SourceVolume: "v", ContainerPath: "/w"}}
			s.LinuxParameters = &batch.LinuxParameters{Tmpfs: []batch.Tmpfs{{ContainerPath: "/w", Size: 1}}}
		}, "mounted on twice"},
		{"relative source", func(s *batch.ContainerSettings) { s.Volumes[0].Host.SourcePath = "x" }, "must be an absolute path on the host"},
		{"bad volume name", func(s *batch.ContainerSettings) { s.Volumes[0].Name = "a b" }, "volumes[0].name"},
		{"duplicate volume", func(s *batch.ContainerSettings) { s.Volumes = append(s.Volumes, s.Volumes[0]) }, "used by two volumes"},
		{"host and efs", func(s *batch.ContainerSettings) {
			s.Volumes[0].EfsVolumeConfiguration = &batch.EFSVolumeConfiguration{FileSystemID: "fs-1"}
		}, "both host.sourcePath and efsVolumeConfiguration"},
		{"efs access point", func(s *batch.ContainerSettings) {
			s.Volumes = []batch.Volume{{Name: "e", EfsVolumeConfiguration: &batch.EFSVolumeConfiguration{FileSystemID: "fs-1", AuthorizationConfig: &batch.EFSAuthorizationConfig{AccessPointID: "fsap-1"}}}}
		}, "accessPointId is not supported"},
		{"efs dotdot", func(s *batch.ContainerSettings) {
			s.Volumes = []batch.Volume{{Name: "e", EfsVolumeConfiguration: &batch.EFSVolumeConfiguration{FileSystemID: "fs-1", RootDirectory: "/a/../.."}}}
		}, `must not contain ".."`},
		{"s3files", func(s *batch.ContainerSettings) {
			s.Volumes[0].S3filesVolumeConfiguration = []byte(`{"fileSystemArn":"x"}`)
		}, "s3filesVolumeConfiguration is not supported"},
		{"ulimit name", func(s *batch.ContainerSettings) {
			s.Ulimits = []batch.Ulimit{{Name: "files", SoftLimit: 1, HardLimit: 1}}
		}, `ulimits[0].name "files" is invalid`},
		{"ulimit soft above hard", func(s *batch.ContainerSettings) {
			s.Ulimits = []batch.Ulimit{{Name: "nofile", SoftLimit: 2, HardLimit: 1}}
		}, "softLimit 2 is above hardLimit 1"},
		{"device permission", func(s *batch.ContainerSettings) {
			s.LinuxParameters = &batch.LinuxParameters{Devices: []batch.Device{{HostPath: "/dev/null", Permissions: []string{"read"}}}}
		}, `permissions value "read" is invalid`},
		{"device path", func(s *batch.ContainerSettings) {
			s.LinuxParameters = &batch.LinuxParameters{Devices: []batch.Device{{HostPath: "null"}}}
		}, "hostPath \"null\" must be an absolute path"},
		{"tmpfs size", func(s *batch.ContainerSettings) {
			s.LinuxParameters = &batch.LinuxParameters{Tmpfs: []batch.Tmpfs{{ContainerPath: "/t"}}}
		}, "size 0 must be a positive number of MiB"},
		{"tmpfs option", func(s *batch.ContainerSettings) {
			s.LinuxParameters = &batch.LinuxParameters{Tmpfs: []batch.Tmpfs{{ContainerPath: "/t", Size: 1, MountOptions: []string{"size=9g"}}}}
		}, `"size=9g" is not a tmpfs mount option`},
		{"swappiness", func(s *batch.ContainerSettings) {
			s.LinuxParameters = &batch.LinuxParameters{MaxSwap: intp(1), Swappiness: intp(101)}
		}, "swappiness 101 is out of range"},
		{"max swap", func(s *batch.ContainerSettings) { s.LinuxParameters = &batch.LinuxParameters{MaxSwap: intp(-1)} }, "maxSwap -1 must not be negative"},
		{"shm", func(s *batch.ContainerSettings) { s.LinuxParameters = &batch.LinuxParameters{SharedMemorySize: -1} }, "sharedMemorySize"},
		{"secret also env", func(s *batch.ContainerSettings) { s.Secrets = []batch.Secret{{Name: "E", ValueFrom: "e"}} }, "also in environment"},
		{"secret twice", func(s *batch.ContainerSettings) {
			s.Secrets = []batch.Secret{{Name: "S", ValueFrom: "a"}, {Name: "S", ValueFrom: "b"}}
		}, "given twice"},
		{"secret reserved", func(s *batch.ContainerSettings) { s.Secrets = []batch.Secret{{Name: "AWS_BATCH_X", ValueFrom: "a"}} }, "reserved"},
		{"secret no name", func(s *batch.ContainerSettings) { s.Secrets = []batch.Secret{{ValueFrom: "a"}} }, "secrets[0].name is required"},
		{"log driver", func(s *batch.ContainerSettings) { s.LogConfiguration = &batch.LogConfiguration{LogDriver: "none"} }, `logDriver "none" is invalid`},
		{"log secret", func(s *batch.ContainerSettings) {
			s.LogConfiguration = &batch.LogConfiguration{LogDriver: "splunk", SecretOptions: []batch.Secret{{Name: "k", ValueFrom: "arn:aws:kms:x"}}}
		}, "secretOptions[0]"},
		{"windows", func(s *batch.ContainerSettings) {
			s.RuntimePlatform = &batch.RuntimePlatform{OperatingSystemFamily: "WINDOWS_SERVER_2019_CORE"}
		}, "batchd runs Linux containers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			tc.change(&s)
			_, err := NewContainerSpec(s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
