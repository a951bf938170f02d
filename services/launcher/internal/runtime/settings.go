package runtime

// Settings are the container settings beyond image, command, environment
// and resources (a job's volumes, secrets, ulimits and linuxParameters).
// The launcher maps them from events.ContainerSpec; the Podman runtime
// applies all of them or refuses the container (ErrCannotStart); the fake
// and simulated runtimes, which run no processes, ignore them.
type Settings struct {
	// Mounts are bind mounts, attempt volumes and tmpfs mounts, in order.
	Mounts []Mount
	// Secrets are environment variables set from engine secrets.
	Secrets []Secret
	// Ulimits are the rlimits of the container's processes.
	Ulimits []Ulimit
	// Devices are host devices given to the container.
	Devices []Device
	// Init runs an init process (Podman's catatonit) as PID 1.
	Init bool
	// ShmSizeMiB is the size of /dev/shm; 0: the engine's default (64 MiB).
	ShmSizeMiB int
	// MaxSwapMiB is the swap allowed on top of the memory limit; nil: no
	// swap.
	MaxSwapMiB *int
	// Swappiness is the kernel's swappiness for the container (0-100);
	// nil: the host's.
	Swappiness *int
	// CPULimit is how Spec.VCPUs limit the container: CPUShares (the
	// default, as AWS: 1024 shares per vCPU, idle CPU may be used) or
	// CPUQuota (a hard CFS quota of VCPUs cores).
	CPULimit string
}

// CPU limit kinds (Settings.CPULimit).
const (
	CPUShares = "shares"
	CPUQuota  = "quota"
)

// Mount kinds (Mount.Kind).
const (
	MountBind   = "bind"   // Source is a host folder, created when missing
	MountVolume = "volume" // Source names an engine volume of the attempt
	MountTmpfs  = "tmpfs"  // SizeMiB, Options
)

// Mount is one filesystem mount.
type Mount struct {
	Kind        string
	Source      string
	Destination string
	ReadOnly    bool
	SizeMiB     int
	Options     []string
}

// Secret sets Env from the first engine secret of Names that exists; none
// existing fails the start, naming ValueFrom.
type Secret struct {
	Env       string
	Names     []string
	ValueFrom string
}

// Ulimit is one rlimit by its Docker name (nofile, nproc, ...).
type Ulimit struct {
	Name       string
	Soft, Hard int64
}

// Device is a host device at ContainerPath with cgroup Permissions ("rwm").
type Device struct {
	HostPath, ContainerPath, Permissions string
}
