package runtime

// Pods: the containers of one multi-container job attempt (a task) run in
// one pod. The pod holds the shared namespaces (network always, IPC and PID
// when the task asks for "task") and the attempt's volumes; its containers
// are created all at once (so a crash of the launcher leaves every one of
// them for the next launcher to find, with its settings in its labels) and
// started one by one as their dependencies allow. Their attempt volumes
// (Settings.Mounts of kind MountVolume) are shared by name.

// PodSpec is the pod of one task attempt.
type PodSpec struct {
	// Name is unique per job attempt: a second CreatePod with the same
	// name finds the first pod.
	Name   string
	Labels map[string]string
	// Network is "host", "bridge" or "none": the pod's network, shared by
	// its containers (they reach each other on 127.0.0.1).
	Network string
	// IpcMode "task" shares one IPC namespace among the containers;
	// PidMode "task" one PID namespace. "host" uses the host's (set per
	// container, Spec.IpcMode/PidMode); "none" or "" keeps each private.
	IpcMode string
	PidMode string
	// The task's volumes are the containers' mounts (Settings.Mounts):
	// its attempt volumes are shared by every container that mounts them.
}

// Pod identifies a pod the engine runs.
type Pod struct {
	ID     string
	Name   string
	Labels map[string]string
}
