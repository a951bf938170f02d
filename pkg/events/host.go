package events

import "time"

// Host is what a launcher advertises in the hosts bucket, refreshed every
// HeartbeatInterval; the key expires when the launcher stops refreshing it.
type Host struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	VCPUs     float64 `json:"vcpus"`
	MemoryMiB int64   `json:"memoryMiB"`
	// GPUs is the number of GPUs, len(GPUDevices) when the launcher names
	// them.
	GPUs int `json:"gpus,omitempty"`
	// GPUDevices are the host's GPUs as CDI device names
	// ("nvidia.com/gpu=0"); the launcher gives each GPU job distinct ones.
	GPUDevices []string `json:"gpuDevices,omitempty"`
	// ComputeEnvironments limits the host to these environments; empty
	// means it serves all of them.
	ComputeEnvironments []string `json:"computeEnvironments,omitempty"`
	StartedAt           int64    `json:"startedAt"`
	HeartbeatAt         int64    `json:"heartbeatAt"`

	// Address is the host's address that containers on other hosts
	// reach it at (the launcher's --host-address): the main node's
	// AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS.
	Address string `json:"address,omitempty"`
}

// Serves reports whether the host takes jobs of the environment.
func (h Host) Serves(env string) bool {
	if len(h.ComputeEnvironments) == 0 {
		return true
	}
	for _, e := range h.ComputeEnvironments {
		if e == env {
			return true
		}
	}
	return false
}

// Alive reports whether the host's last heartbeat is within ttl
// (bus.HostTTL) of now: the scheduler forgets a host, and the dashboard
// stops showing it, once it is not.
func (h Host) Alive(now time.Time, ttl time.Duration) bool {
	return h.HeartbeatAt >= now.Add(-ttl).UnixMilli()
}
