package batch

// Capacity rules shared by the scheduler (which decides on them) and the api
// (which shows them: the dashboard's compute environments and hosts).

// HoldsCapacity reports whether a job recorded in this status holds the
// vCPUs, memory and GPUs of its host and compute environment: from STARTING
// until it leaves RUNNING. The scheduler also counts the placements it has
// made and the record does not show yet; a reader of the records (the api)
// counts these alone.
func (s JobStatus) HoldsCapacity() bool { return s == StatusStarting || s == StatusRunning }

// Add returns the sum of two quantities.
func (r Resources) Add(o Resources) Resources {
	return Resources{VCPUs: r.VCPUs + o.VCPUs, MemoryMiB: r.MemoryMiB + o.MemoryMiB, GPUs: r.GPUs + o.GPUs}
}

// Free returns what is left of r once used is taken, never below zero in
// any part (a host can be over-committed after it shrank).
func (r Resources) Free(used Resources) Resources {
	return Resources{VCPUs: max(r.VCPUs-used.VCPUs, 0), MemoryMiB: max(r.MemoryMiB-used.MemoryMiB, 0), GPUs: max(r.GPUs-used.GPUs, 0)}
}

// EnvironmentFree is what a compute environment can still take: what the
// live hosts serving it have free (hostsFree, summed over them), its vCPUs
// capped by what its vCPU cap (maxVCPUs, 0: no cap) leaves after inUse, and
// nothing when it is not enabled. A host serving several environments
// counts in each.
func EnvironmentFree(enabled bool, maxVCPUs float64, inUse, hostsFree Resources) Resources {
	if !enabled {
		return Resources{}
	}
	if maxVCPUs > 0 {
		hostsFree.VCPUs = min(hostsFree.VCPUs, max(maxVCPUs-inUse.VCPUs, 0))
	}
	return hostsFree
}
