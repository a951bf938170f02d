package plan

import (
	"fmt"

	"github.com/batchd/batchd/pkg/events"
)

// Reasons a RUNNABLE job waits, in AWS Batch's codes where AWS has one.
const (
	ReasonEnvMaxResource = "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE"
	ReasonJobRequirement = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"
	ReasonInvalidEnvs    = "ACTION_REQUIRED"
)

// waitReason says why a job that did not fit waits. Waiting for capacity
// held by other jobs is normal and has no reason; a job that can never fit
// says so.
func (s *State) waitReason(q *Queue, j *Job, hosts []*events.Host) string {
	anyEnabled, envFits := false, false
	for _, name := range q.Envs {
		e := s.Envs[name]
		if e == nil || !e.Enabled {
			continue
		}
		anyEnabled = true
		if e.MaxVCPU != 0 && j.VCPU > e.MaxVCPU {
			continue
		}
		envFits = true
		for _, h := range hosts {
			if h.Serves(name) && j.VCPU <= ToMilli(h.VCPUs) && j.MemoryMiB <= h.MemoryMiB && j.GPUs <= h.GPUs {
				return "" // it fits this environment once capacity frees up
			}
		}
	}
	switch {
	case !anyEnabled:
		return ReasonInvalidEnvs + " - no compute environment of queue " + q.Name + " is ENABLED."
	case !envFits:
		return fmt.Sprintf("%s - the job needs %g vCPUs, more than the maxvCpus of every compute environment of queue %s.", ReasonEnvMaxResource, j.VCPU.Float(), q.Name)
	case len(hosts) > 0:
		return fmt.Sprintf("%s - no host of the queue's compute environments has %g vCPUs, %d MiB of memory and %d GPUs.", ReasonJobRequirement, j.VCPU.Float(), j.MemoryMiB, j.GPUs)
	}
	return ""
}
