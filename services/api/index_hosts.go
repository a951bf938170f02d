package api

import "github.com/batchd/batchd/pkg/batch"

// The host part of the job index: the vCPUs, memory and GPUs the jobs
// holding capacity (batch.JobStatus.HoldsCapacity) hold on each host and
// in each compute environment, from their records, for the dashboard.

// heldUse is what the holding jobs of one host or environment hold.
type heldUse struct {
	vcpuMilli, memoryMiB int64
	gpus, jobs           int
}

// useMap sums heldUse by a key.
type useMap map[string]*heldUse

// heldCapacity sums heldUse by host id and by environment name.
type heldCapacity struct {
	byHost, byEnv useMap
}

func newHeldCapacity() heldCapacity {
	return heldCapacity{byHost: useMap{}, byEnv: useMap{}}
}

// resources is the use in pkg/batch terms.
func (u *heldUse) resources() batch.Resources {
	if u == nil {
		return batch.Resources{}
	}
	return batch.Resources{VCPUs: float64(u.vcpuMilli) / 1000, MemoryMiB: u.memoryMiB, GPUs: u.gpus}
}

// linkHosts adds a holding e to its host and environment; unlinkHosts
// takes it away. Called under x.mu.
func (x *jobIndex) linkHosts(e *jobEntry) {
	if e.status.HoldsCapacity() {
		x.held.byHost.add(e.host, e, 1)
		x.held.byEnv.add(e.env, e, 1)
	}
}

func (x *jobIndex) unlinkHosts(e *jobEntry) {
	if e.status.HoldsCapacity() {
		x.held.byHost.add(e.host, e, -1)
		x.held.byEnv.add(e.env, e, -1)
	}
}

// heldBy returns what the holding jobs hold on every host and in every
// environment that has some, by host id and environment name, and how
// many jobs hold it.
func (x *jobIndex) heldBy() (hosts, envs map[string]batch.Resources, hostJobs, envJobs map[string]int) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	hosts, envs = make(map[string]batch.Resources, len(x.held.byHost)), make(map[string]batch.Resources, len(x.held.byEnv))
	hostJobs, envJobs = make(map[string]int, len(x.held.byHost)), make(map[string]int, len(x.held.byEnv))
	for k, u := range x.held.byHost {
		hosts[k], hostJobs[k] = u.resources(), u.jobs
	}
	for k, u := range x.held.byEnv {
		envs[k], envJobs[k] = u.resources(), u.jobs
	}
	return hosts, envs, hostJobs, envJobs
}

// add adds (sign 1) or takes away (sign -1) e's share under key.
func (m useMap) add(key string, e *jobEntry, sign int) {
	u := m[key]
	if u == nil {
		if sign < 0 {
			return
		}
		u = &heldUse{}
		m[key] = u
	}
	u.vcpuMilli += int64(sign) * e.vcpuMilli
	u.memoryMiB += int64(sign) * e.memoryMiB
	u.gpus += sign * int(e.gpus)
	u.jobs += sign
	if u.jobs <= 0 {
		delete(m, key)
	}
}
