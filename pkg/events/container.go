package events

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/batchd/batchd/pkg/batch"
)

// This file is the one path from a container's AWS settings to what the
// launcher runs: NewContainerSpec validates a batch.ContainerSettings (the
// resolved containerProperties, or one container of ecsProperties with its
// task's volumes) and builds its ContainerSpec. The api calls it to refuse
// bad settings at RegisterJobDefinition and SubmitJob; the scheduler calls
// it to build each placement.

// Mount kinds (Mount.Kind).
const (
	// MountBind is a host folder (volumes[].host.sourcePath); the launcher
	// creates it when it is missing, as Docker on ECS does.
	MountBind = "bind"
	// MountVolume is a volume with an empty host: an engine volume that
	// lives for the attempt (shared by the containers of one attempt).
	MountVolume = "volume"
	// MountEFS is an EFS file system: Source is the file system id, which
	// the launcher maps to a host folder (its --efs-volume setting).
	MountEFS = "efs"
	// MountTmpfs is a linuxParameters.tmpfs mount.
	MountTmpfs = "tmpfs"
)

// Mount is one filesystem mount of the container.
type Mount struct {
	Kind string `json:"kind"`
	// Source is the host folder (bind), the job's volume name (volume) or
	// the EFS file system id (efs); empty for tmpfs.
	Source string `json:"source,omitempty"`
	// SubPath is the EFS rootDirectory, relative to the file system's root.
	SubPath     string `json:"subPath,omitempty"`
	Destination string `json:"destination"`
	ReadOnly    bool   `json:"readOnly,omitempty"`
	// SizeMiB and Options are the tmpfs size and mount options.
	SizeMiB int      `json:"sizeMiB,omitempty"`
	Options []string `json:"options,omitempty"`
}

// SecretEnv is an environment variable whose value is an engine (Podman)
// secret. Names lists the secret names to try, in order (a Secrets Manager
// ARN's name with and without its random suffix); ValueFrom is what the
// job definition said, for messages.
type SecretEnv struct {
	Env       string   `json:"env"`
	Names     []string `json:"names"`
	ValueFrom string   `json:"valueFrom"`
}

// DeviceMapping is a host device made visible in the container.
type DeviceMapping struct {
	HostPath      string `json:"hostPath"`
	ContainerPath string `json:"containerPath"`
	// Permissions are the cgroup permissions: some of "r", "w", "m".
	Permissions string `json:"permissions"`
}

// NewContainerSpec validates the settings and builds the container spec
// (without the AWS_BATCH_* variables and the timeout, which come with the
// placement). Its errors name the field and say what is allowed; the api
// answers them as ClientException.
func NewContainerSpec(s batch.ContainerSettings) (ContainerSpec, error) {
	spec := ContainerSpec{
		Image: s.Image, Command: s.Command, VCPUs: s.Resources.VCPUs, MemoryMiB: s.Resources.MemoryMiB,
		GPUs: s.Resources.GPUs, User: s.User, Privileged: s.Privileged, ReadOnlyRoot: s.ReadonlyRootFilesystem,
	}
	if len(s.Environment) > 0 {
		spec.Environment = make(map[string]string, len(s.Environment))
		for _, kv := range s.Environment {
			spec.Environment[kv.Name] = kv.Value
		}
	}
	var err error
	if spec.Mounts, err = mounts(s.Volumes, s.MountPoints); err != nil {
		return ContainerSpec{}, err
	}
	if spec.Secrets, err = secretEnvs("secrets", s.Secrets, spec.Environment); err != nil {
		return ContainerSpec{}, err
	}
	if spec.Ulimits, err = ulimits(s.Ulimits); err != nil {
		return ContainerSpec{}, err
	}
	if lp := s.LinuxParameters; lp != nil {
		if err := linuxParameters(&spec, lp); err != nil {
			return ContainerSpec{}, err
		}
	}
	if err := checkLogConfiguration(s.LogConfiguration); err != nil {
		return ContainerSpec{}, err
	}
	if spec.RegistryCredentials, err = RegistryCredentialsOf(s.RepositoryCredentials); err != nil {
		return ContainerSpec{}, err
	}
	if rp := s.RuntimePlatform; rp != nil {
		if rp.OperatingSystemFamily != "" && rp.OperatingSystemFamily != "LINUX" {
			return ContainerSpec{}, fmt.Errorf("runtimePlatform.operatingSystemFamily %q cannot run here: batchd runs Linux containers (use LINUX or leave it out)", rp.OperatingSystemFamily)
		}
		if rp.CPUArchitecture != "" && rp.CPUArchitecture != "X86_64" && rp.CPUArchitecture != "ARM64" {
			return ContainerSpec{}, fmt.Errorf("runtimePlatform.cpuArchitecture %q is invalid: use X86_64 or ARM64", rp.CPUArchitecture)
		}
	}
	return spec, nil
}

// volumeName is what AWS allows as a volume name.
var volumeName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

// mounts joins the mount points to their volumes.
func mounts(volumes []batch.Volume, points []batch.MountPoint) ([]Mount, error) {
	byName := make(map[string]batch.Volume, len(volumes))
	for i, v := range volumes {
		field := fmt.Sprintf("volumes[%d]", i)
		if !volumeName.MatchString(v.Name) {
			return nil, fmt.Errorf("%s.name %q is invalid: give 1 to 255 letters, digits, hyphens and underscores (mountPoints name the volume by it)", field, v.Name)
		}
		if _, dup := byName[v.Name]; dup {
			return nil, fmt.Errorf("%s.name %q is used by two volumes: names must be unique", field, v.Name)
		}
		if len(v.S3filesVolumeConfiguration) > 0 && string(v.S3filesVolumeConfiguration) != "null" {
			return nil, fmt.Errorf("%s.s3filesVolumeConfiguration is not supported: batchd has no S3 Files; mount the data on the hosts and use host.sourcePath", field)
		}
		if v.Host != nil && v.Host.SourcePath != "" && v.EfsVolumeConfiguration != nil {
			return nil, fmt.Errorf("%s has both host.sourcePath and efsVolumeConfiguration: give one", field)
		}
		if v.Host != nil && v.Host.SourcePath != "" && !path.IsAbs(v.Host.SourcePath) {
			return nil, fmt.Errorf("%s.host.sourcePath %q must be an absolute path on the host", field, v.Host.SourcePath)
		}
		if e := v.EfsVolumeConfiguration; e != nil {
			if err := checkEFS(field+".efsVolumeConfiguration", e); err != nil {
				return nil, err
			}
		}
		byName[v.Name] = v
	}
	var out []Mount
	seen := map[string]bool{}
	for i, p := range points {
		field := fmt.Sprintf("mountPoints[%d]", i)
		v, ok := byName[p.SourceVolume]
		if !ok {
			return nil, fmt.Errorf("%s.sourceVolume %q names no volume: give the name of one of volumes", field, p.SourceVolume)
		}
		if err := checkContainerPath(field+".containerPath", p.ContainerPath, seen); err != nil {
			return nil, err
		}
		m := Mount{Destination: path.Clean(p.ContainerPath), ReadOnly: p.ReadOnly}
		switch {
		case v.Host != nil && v.Host.SourcePath != "":
			m.Kind, m.Source = MountBind, path.Clean(v.Host.SourcePath)
		case v.EfsVolumeConfiguration != nil:
			m.Kind, m.Source = MountEFS, v.EfsVolumeConfiguration.FileSystemID
			m.SubPath = strings.TrimPrefix(path.Clean("/"+v.EfsVolumeConfiguration.RootDirectory), "/")
		default:
			m.Kind, m.Source = MountVolume, v.Name
		}
		out = append(out, m)
	}
	return out, nil
}

func checkEFS(field string, e *batch.EFSVolumeConfiguration) error {
	if e.FileSystemID == "" {
		return fmt.Errorf("%s.fileSystemId is required", field)
	}
	if strings.ContainsAny(e.FileSystemID, "/\\ ") {
		return fmt.Errorf("%s.fileSystemId %q is invalid: give the file system id, for example fs-12345678", field, e.FileSystemID)
	}
	if slices.Contains(strings.Split(e.RootDirectory, "/"), "..") {
		return fmt.Errorf("%s.rootDirectory %q must not contain \"..\"", field, e.RootDirectory)
	}
	switch e.TransitEncryption {
	case "", "ENABLED", "DISABLED":
	default:
		return fmt.Errorf("%s.transitEncryption %q is invalid: use ENABLED or DISABLED", field, e.TransitEncryption)
	}
	if a := e.AuthorizationConfig; a != nil {
		if a.AccessPointID != "" {
			return fmt.Errorf("%s.authorizationConfig.accessPointId is not supported: the operator maps each file system to a host folder; give rootDirectory instead", field)
		}
		switch a.IAM {
		case "", "DISABLED":
		case "ENABLED":
			return fmt.Errorf("%s.authorizationConfig.iam ENABLED is not supported: batchd has no IAM; leave it out or DISABLED", field)
		default:
			return fmt.Errorf("%s.authorizationConfig.iam %q is invalid: use ENABLED or DISABLED", field, a.IAM)
		}
	}
	return nil
}

// checkContainerPath requires an absolute path not yet mounted on.
func checkContainerPath(field, p string, seen map[string]bool) error {
	if p == "" || !path.IsAbs(p) {
		return fmt.Errorf("%s %q must be an absolute path in the container", field, p)
	}
	if path.Clean(p) == "/" {
		return fmt.Errorf("%s must not be / (the root filesystem)", field)
	}
	if seen[path.Clean(p)] {
		return fmt.Errorf("%s %q is mounted on twice: give each mount its own path", field, p)
	}
	seen[path.Clean(p)] = true
	return nil
}

// Secret names. A Secrets Manager ARN is
// arn:aws:secretsmanager:<region>:<account>:secret:<name>[-XXXXXX][:json-key:version-stage:version-id];
// an SSM parameter ARN is arn:aws:ssm:<region>:<account>:parameter/<name>.
var (
	secretsManagerARN = regexp.MustCompile(`^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:(.+)$`)
	ssmARN            = regexp.MustCompile(`^arn:[^:]+:ssm:[^:]*:[^:]*:parameter/?(.+)$`)
	randomSuffix      = regexp.MustCompile(`^(.+)-[A-Za-z0-9]{6}$`)
	engineSecretName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$`)
)

// SecretNames returns the engine secret names a secret's valueFrom stands
// for, to try in order:
//   - a Secrets Manager ARN: the name after "secret:"; when the name ends in
//     "-" and six letters or digits (the suffix Secrets Manager adds to a
//     full ARN), the name without them is tried second. A ":json-key:
//     version-stage:version-id" tail must be empty (the whole secret is the
//     value);
//   - an SSM parameter ARN: the name after "parameter/";
//   - anything else: the name itself (an SSM parameter name).
//
// In a hierarchical parameter name (/app/db/password) the leading "/" is
// dropped and the other "/" become ".": app.db.password.
func SecretNames(valueFrom string) ([]string, error) {
	if valueFrom == "" {
		return nil, errors.New("valueFrom is required: give a Secrets Manager ARN, an SSM parameter ARN or a parameter name")
	}
	name := valueFrom
	var names []string
	if m := secretsManagerARN.FindStringSubmatch(valueFrom); m != nil {
		parts := strings.Split(m[1], ":")
		if slices.ContainsFunc(parts[1:], func(s string) bool { return s != "" }) {
			return nil, fmt.Errorf("valueFrom %q selects a JSON key, version stage or version id: not supported; store the value alone in its own Podman secret", valueFrom)
		}
		name = parts[0]
		names = append(names, name)
		if m := randomSuffix.FindStringSubmatch(name); m != nil {
			names = append(names, m[1])
		}
	} else if strings.HasPrefix(valueFrom, "arn:") {
		m := ssmARN.FindStringSubmatch(valueFrom)
		if m == nil {
			return nil, fmt.Errorf("valueFrom %q is neither a Secrets Manager secret ARN nor an SSM parameter ARN", valueFrom)
		}
		names = append(names, engineName(m[1]))
	} else {
		names = append(names, engineName(name))
	}
	for _, n := range names {
		if !engineSecretName.MatchString(n) {
			return nil, fmt.Errorf("valueFrom %q names the secret %q, which cannot be a Podman secret name: use letters, digits, '_', '.' and '-', starting with a letter or digit", valueFrom, n)
		}
	}
	return names, nil
}

func engineName(param string) string {
	return strings.ReplaceAll(strings.TrimPrefix(param, "/"), "/", ".")
}

func secretEnvs(field string, secrets []batch.Secret, env map[string]string) ([]SecretEnv, error) {
	var out []SecretEnv
	seen := map[string]bool{}
	for i, s := range secrets {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case s.Name == "":
			return nil, fmt.Errorf("%s.name is required: the environment variable that receives the secret", f)
		case strings.HasPrefix(s.Name, "AWS_BATCH"):
			return nil, fmt.Errorf("%s.name %s is not allowed: names starting with AWS_BATCH are reserved for the variables Batch sets", f, s.Name)
		case seen[s.Name]:
			return nil, fmt.Errorf("%s.name %s is given twice: each secret needs its own variable", f, s.Name)
		}
		if _, ok := env[s.Name]; ok {
			return nil, fmt.Errorf("%s.name %s is also in environment: a variable is either a secret or a plain value", f, s.Name)
		}
		seen[s.Name] = true
		names, err := SecretNames(s.ValueFrom)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, SecretEnv{Env: s.Name, Names: names, ValueFrom: s.ValueFrom})
	}
	return out, nil
}

// UlimitNames are the ulimit names AWS accepts (Docker's names).
var UlimitNames = []string{"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"}

func ulimits(us []batch.Ulimit) ([]batch.Ulimit, error) {
	seen := map[string]bool{}
	for i, u := range us {
		f := fmt.Sprintf("ulimits[%d]", i)
		switch {
		case !slices.Contains(UlimitNames, u.Name):
			return nil, fmt.Errorf("%s.name %q is invalid: use one of %s", f, u.Name, strings.Join(UlimitNames, ", "))
		case seen[u.Name]:
			return nil, fmt.Errorf("%s.name %s is given twice", f, u.Name)
		case u.SoftLimit < 0 || u.HardLimit < 0:
			return nil, fmt.Errorf("%s (%s) limits must not be negative", f, u.Name)
		case u.SoftLimit > u.HardLimit:
			return nil, fmt.Errorf("%s (%s) softLimit %d is above hardLimit %d", f, u.Name, u.SoftLimit, u.HardLimit)
		}
		seen[u.Name] = true
	}
	return slices.Clone(us), nil
}

// tmpfsOptions are the mount options AWS allows for tmpfs (those ending in
// "=" take a value).
var tmpfsOptions = []string{"defaults", "ro", "rw", "suid", "nosuid", "dev", "nodev", "exec", "noexec", "sync", "async",
	"dirsync", "remount", "mand", "nomand", "atime", "noatime", "diratime", "nodiratime", "bind", "rbind", "unbindable",
	"runbindable", "private", "rprivate", "shared", "rshared", "slave", "rslave", "relatime", "norelatime",
	"strictatime", "nostrictatime", "mode=", "uid=", "gid=", "nr_inodes=", "nr_blocks=", "mpol="}

func linuxParameters(spec *ContainerSpec, lp *batch.LinuxParameters) error {
	const field = "linuxParameters"
	for i, d := range lp.Devices {
		f := fmt.Sprintf("%s.devices[%d]", field, i)
		if !path.IsAbs(d.HostPath) {
			return fmt.Errorf("%s.hostPath %q must be an absolute path on the host, for example /dev/fuse", f, d.HostPath)
		}
		dst := d.ContainerPath
		if dst == "" {
			dst = d.HostPath
		}
		if !path.IsAbs(dst) {
			return fmt.Errorf("%s.containerPath %q must be an absolute path in the container", f, d.ContainerPath)
		}
		perms := ""
		for _, p := range d.Permissions {
			var c string
			switch p {
			case "READ":
				c = "r"
			case "WRITE":
				c = "w"
			case "MKNOD":
				c = "m"
			default:
				return fmt.Errorf("%s.permissions value %q is invalid: use READ, WRITE or MKNOD", f, p)
			}
			if !strings.Contains(perms, c) {
				perms += c
			}
		}
		if perms == "" {
			perms = "rwm" // Docker's default
		}
		spec.Devices = append(spec.Devices, DeviceMapping{HostPath: path.Clean(d.HostPath), ContainerPath: path.Clean(dst), Permissions: perms})
	}
	spec.Init = lp.InitProcessEnabled
	if lp.SharedMemorySize < 0 {
		return fmt.Errorf("%s.sharedMemorySize %d must be a positive number of MiB", field, lp.SharedMemorySize)
	}
	spec.ShmSizeMiB = lp.SharedMemorySize
	seen := map[string]bool{}
	for _, m := range spec.Mounts {
		seen[m.Destination] = true
	}
	for i, t := range lp.Tmpfs {
		f := fmt.Sprintf("%s.tmpfs[%d]", field, i)
		if err := checkContainerPath(f+".containerPath", t.ContainerPath, seen); err != nil {
			return err
		}
		if t.Size <= 0 {
			return fmt.Errorf("%s.size %d must be a positive number of MiB", f, t.Size)
		}
		for _, o := range t.MountOptions {
			name, _, hasValue := strings.Cut(o, "=")
			if hasValue {
				name += "="
			}
			if !slices.Contains(tmpfsOptions, name) {
				return fmt.Errorf("%s.mountOptions value %q is not a tmpfs mount option AWS allows", f, o)
			}
		}
		spec.Mounts = append(spec.Mounts, Mount{Kind: MountTmpfs, Destination: path.Clean(t.ContainerPath),
			SizeMiB: t.Size, Options: slices.Clone(t.MountOptions)})
	}
	if lp.MaxSwap != nil && *lp.MaxSwap < 0 {
		return fmt.Errorf("%s.maxSwap %d must not be negative (0: no swap)", field, *lp.MaxSwap)
	}
	if s := lp.Swappiness; s != nil && (*s < 0 || *s > 100) {
		return fmt.Errorf("%s.swappiness %d is out of range: use 0 to 100", field, *s)
	}
	spec.MaxSwapMiB = lp.MaxSwap
	if lp.MaxSwap != nil {
		// AWS ignores swappiness without maxSwap.
		spec.Swappiness = lp.Swappiness
	}
	return nil
}

// LogDrivers are the logConfiguration drivers AWS knows. batchd keeps every
// job's output in its job log (BATCH_LOGS) whatever the driver says.
var LogDrivers = []string{"json-file", "syslog", "journald", "gelf", "fluentd", "awslogs", "splunk", "awsfirelens"}

func checkLogConfiguration(lc *batch.LogConfiguration) error {
	if lc == nil {
		return nil
	}
	if !slices.Contains(LogDrivers, lc.LogDriver) {
		return fmt.Errorf("logConfiguration.logDriver %q is invalid: use one of %s", lc.LogDriver, strings.Join(LogDrivers, ", "))
	}
	for i, s := range lc.SecretOptions {
		f := fmt.Sprintf("logConfiguration.secretOptions[%d]", i)
		if s.Name == "" {
			return fmt.Errorf("%s.name is required", f)
		}
		if _, err := SecretNames(s.ValueFrom); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	return nil
}
