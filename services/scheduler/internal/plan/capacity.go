package plan

import "github.com/batchd/batchd/pkg/batch"

// EnvCapacity is what a compute environment holds and could still take,
// as the planner counts it: jobs STARTING or RUNNING there and the
// placements not yet confirmed by their record.
type EnvCapacity struct {
	// VCPUsInUse and MemoryMiBInUse sum the jobs the environment holds.
	VCPUsInUse     Milli
	MemoryMiBInUse int64
	// VCPUsFree is what the live hosts serving the environment have free,
	// capped by what its maxvCpus leaves; MemoryMiBFree is the free
	// memory of those hosts. A host serving several environments counts
	// in each.
	VCPUsFree     Milli
	MemoryMiBFree int64
}

// Capacity returns the capacity of every known compute environment. It
// walks the jobs that hold capacity, not every job.
func (s *State) Capacity() map[string]EnvCapacity {
	envCPU, envMem := map[string]Milli{}, map[string]int64{}
	hostCPU, hostMem := map[string]Milli{}, map[string]int64{}
	for _, j := range s.occ {
		if !j.Node { // a gang holds its environment, its nodes their hosts
			envCPU[j.Env] += j.VCPU
			envMem[j.Env] += j.MemoryMiB
		}
		if !j.gang() {
			hostCPU[j.Host] += j.VCPU
			hostMem[j.Host] += j.MemoryMiB
		}
	}
	out := make(map[string]EnvCapacity, len(s.Envs))
	for name, e := range s.Envs {
		c := EnvCapacity{VCPUsInUse: envCPU[name], MemoryMiBInUse: envMem[name]}
		var free Milli
		var freeMem int64
		for _, h := range s.Hosts {
			if !h.Serves(name) {
				continue
			}
			free += max(ToMilli(h.VCPUs)-hostCPU[h.ID], 0)
			freeMem += max(h.MemoryMiB-hostMem[h.ID], 0)
		}
		// The environment's cap and state: the rule the api shows too.
		f := batch.EnvironmentFree(e.Enabled, e.MaxVCPU.Float(),
			batch.Resources{VCPUs: c.VCPUsInUse.Float()}, batch.Resources{VCPUs: free.Float(), MemoryMiB: freeMem})
		c.VCPUsFree, c.MemoryMiBFree = ToMilli(f.VCPUs), f.MemoryMiB
		out[name] = c
	}
	return out
}
