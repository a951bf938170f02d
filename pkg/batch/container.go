package batch

import "encoding/json"

// The container settings of containerProperties (and of each container of
// ecsProperties) that act on the container beyond its image, command,
// environment and resources. docs/api.md has the table of what acts.

// Volume is a job (or task) volume that mount points name. Host with a
// sourcePath is a host folder; an empty Host (or neither Host nor EFS) is a
// volume that lives for the attempt; EfsVolumeConfiguration is a file
// system the operator maps to a host folder.
type Volume struct {
	Name                       string                  `json:"name,omitempty"`
	Host                       *Host                   `json:"host,omitempty"`
	EfsVolumeConfiguration     *EFSVolumeConfiguration `json:"efsVolumeConfiguration,omitempty"`
	S3filesVolumeConfiguration json.RawMessage         `json:"s3filesVolumeConfiguration,omitempty"`
}

// Host is the host part of a volume.
type Host struct {
	SourcePath string `json:"sourcePath,omitempty"`
}

// EFSVolumeConfiguration is an Amazon EFS file system volume.
type EFSVolumeConfiguration struct {
	FileSystemID          string                  `json:"fileSystemId"`
	RootDirectory         string                  `json:"rootDirectory,omitempty"`
	TransitEncryption     string                  `json:"transitEncryption,omitempty"`
	TransitEncryptionPort *int                    `json:"transitEncryptionPort,omitempty"`
	AuthorizationConfig   *EFSAuthorizationConfig `json:"authorizationConfig,omitempty"`
}

// EFSAuthorizationConfig is the EFS access point and IAM setting.
type EFSAuthorizationConfig struct {
	AccessPointID string `json:"accessPointId,omitempty"`
	IAM           string `json:"iam,omitempty"`
}

// MountPoint mounts the volume SourceVolume at ContainerPath.
type MountPoint struct {
	ContainerPath string `json:"containerPath,omitempty"`
	ReadOnly      bool   `json:"readOnly,omitempty"`
	SourceVolume  string `json:"sourceVolume,omitempty"`
}

// Ulimit is one resource limit of the container's processes.
type Ulimit struct {
	Name      string `json:"name"`
	SoftLimit int64  `json:"softLimit"`
	HardLimit int64  `json:"hardLimit"`
}

// LinuxParameters are the Linux-specific container settings.
type LinuxParameters struct {
	Devices            []Device `json:"devices,omitempty"`
	InitProcessEnabled bool     `json:"initProcessEnabled,omitempty"`
	// SharedMemorySize is the size of /dev/shm in MiB.
	SharedMemorySize int     `json:"sharedMemorySize,omitempty"`
	Tmpfs            []Tmpfs `json:"tmpfs,omitempty"`
	// MaxSwap is the swap the container may use, in MiB; nil: the host's
	// setting.
	MaxSwap *int `json:"maxSwap,omitempty"`
	// Swappiness is 0-100; it applies only with MaxSwap.
	Swappiness *int `json:"swappiness,omitempty"`
}

// Device is a host device given to the container.
type Device struct {
	HostPath      string   `json:"hostPath"`
	ContainerPath string   `json:"containerPath,omitempty"`
	Permissions   []string `json:"permissions,omitempty"` // READ, WRITE, MKNOD
}

// Tmpfs is a tmpfs mount of Size MiB.
type Tmpfs struct {
	ContainerPath string   `json:"containerPath"`
	Size          int      `json:"size"`
	MountOptions  []string `json:"mountOptions,omitempty"`
}

// Secret is an environment variable Name whose value comes from the secret
// ValueFrom names.
type Secret struct {
	Name      string `json:"name"`
	ValueFrom string `json:"valueFrom"`
}

// LogConfiguration is the container's log driver. batchd keeps every
// job's output in its own job log whatever the driver; the field is kept.
type LogConfiguration struct {
	LogDriver     string            `json:"logDriver"`
	Options       map[string]string `json:"options,omitempty"`
	SecretOptions []Secret          `json:"secretOptions,omitempty"`
}

// RuntimePlatform is the operating system and CPU architecture a job
// needs.
type RuntimePlatform struct {
	OperatingSystemFamily string `json:"operatingSystemFamily,omitempty"`
	CPUArchitecture       string `json:"cpuArchitecture,omitempty"`
}

// ContainerSettings is one container as the launcher will run it, in AWS
// terms: what a resolved containerProperties, or one container of
// ecsProperties with its task's volumes, says. pkg/events.NewContainerSpec
// turns it into the launcher's ContainerSpec (and is the one place that
// validates it).
type ContainerSettings struct {
	Image                  string
	Command                []string
	Environment            []KeyValuePair
	Resources              Resources
	User                   string
	Privileged             bool
	ReadonlyRootFilesystem bool
	// Volumes are the job's (containerProperties) or the task's
	// (ecsProperties) volumes; MountPoints name them.
	Volumes          []Volume
	MountPoints      []MountPoint
	Ulimits          []Ulimit
	LinuxParameters  *LinuxParameters
	Secrets          []Secret
	LogConfiguration *LogConfiguration
	RuntimePlatform  *RuntimePlatform
	// RepositoryCredentials is containerProperties.repositoryCredentials
	// (raw JSON), read by pkg/events.RegistryCredentialsOf.
	RepositoryCredentials json.RawMessage
}

// Settings returns the container settings of a job definition's
// containerProperties (before overrides).
func (c *ContainerProperties) Settings() ContainerSettings {
	r, _ := ParseResources(c.ResourceRequirements, c.Vcpus, c.Memory)
	return ContainerSettings{
		Image: c.Image, Command: c.Command, Environment: c.Environment, Resources: r, User: c.User,
		Privileged: c.Privileged, ReadonlyRootFilesystem: c.ReadonlyRootFilesystem,
		Volumes: c.Volumes, MountPoints: c.MountPoints, Ulimits: c.Ulimits, LinuxParameters: c.LinuxParameters,
		Secrets: c.Secrets, LogConfiguration: c.LogConfiguration, RuntimePlatform: c.RuntimePlatform,
		RepositoryCredentials: c.RepositoryCredentials,
	}
}

// Settings returns the container settings of a job's resolved container.
func (c *ContainerDetail) Settings() ContainerSettings {
	return ContainerSettings{
		Image: c.Image, Command: c.Command, Environment: c.Environment, Resources: c.Resources(), User: c.User,
		Privileged: c.Privileged, ReadonlyRootFilesystem: c.ReadonlyRootFilesystem,
		Volumes: c.Volumes, MountPoints: c.MountPoints, Ulimits: c.Ulimits, LinuxParameters: c.LinuxParameters,
		Secrets: c.Secrets, LogConfiguration: c.LogConfiguration, RuntimePlatform: c.RuntimePlatform,
		RepositoryCredentials: c.RepositoryCredentials,
	}
}
